//! `merossd upgrade UUID FILE --yes`: sends a Meross device a firmware image through the
//! API (which serves it to that device only) and follows the device until it is back,
//! saying the version before and after.

use super::call::{encode, print_json, say, Api};
use super::CliError;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// What `merossd upgrade` takes.
#[derive(clap::Args, Debug)]
pub struct UpgradeArgs {
    /// The device: its uuid, a unique start of it (4 characters or more) or its name,
    /// as `merossd devices` lists them.
    pub uuid: String,
    /// The firmware image (a .bin file for this model); for a MOKO plug, `--from` instead.
    #[arg(required_unless_present = "from")]
    pub file: Option<PathBuf>,
    /// A MOKO plug: the directory on your own HTTP server it is to fetch its upgrade from
    /// (http://HOST[:PORT]/DIRECTORY/); the outcome comes later in `merossd device`.
    #[arg(long, conflicts_with = "file")]
    pub from: Option<String>,
    /// Yes, upgrade: a wrong or broken image can leave a plug that does not start.
    #[arg(long)]
    pub yes: bool,
    /// The md5 the image was published with: checked before anything is sent.
    #[arg(long)]
    pub md5: Option<String>,
    /// Seconds the device gets to fetch the image and come back (10 to 3600).
    #[arg(long, default_value_t = 600)]
    pub wait: u64,
    /// Print the API's last answer as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs it (`remote::run` hands it here).
pub(super) async fn run(args: &UpgradeArgs, api: &Api) -> Result<(), CliError> {
    if !args.yes {
        return Err(CliError::Other(
            "a wrong or broken image can leave a plug that does not start: say --yes to upgrade"
                .into(),
        ));
    }
    let Some(file) = &args.file else {
        return moko(args, api).await;
    };
    let image = std::fs::read(file)
        .map_err(|e| CliError::Other(format!("cannot read {}: {e}", file.display())))?;
    let mut path = format!(
        "/devices/{}/upgrade?confirm=yes&wait_s={}",
        encode(&args.uuid),
        args.wait
    );
    if let Some(md5) = &args.md5 {
        path.push_str(&format!("&md5={}", encode(md5)));
    }
    let client = api.0.clone();
    let started = tokio::task::spawn_blocking(move || client.post_bytes(&path, &image))
        .await
        .map_err(|e| CliError::Other(e.to_string()))??;
    let run = &started["upgrade"];
    let before = text(&run["version_before"]);
    if !args.json {
        say(format!(
            "{}: upgrade from {before} sent; the device is fetching the image",
            args.uuid
        ));
    }
    let status = format!("/devices/{}/upgrade", encode(&args.uuid));
    let mut fetched = false;
    // Bounded: the daemon fails the run at its deadline, and we stop a minute after that.
    for _ in 0..(args.wait + 60) {
        let answer = api.get(status.clone()).await?;
        let run = &answer["upgrade"];
        match run["state"].as_str() {
            Some("downloaded") if !fetched && !args.json => {
                fetched = true;
                say("the device fetched the image; waiting for it to come back");
            }
            Some("done") => return finish(&answer, args, true),
            Some("failed") => return finish(&answer, args, false),
            _ => {}
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(CliError::Other(
        "the upgrade did not end in time; `merossd device` shows the firmware now".into(),
    ))
}

/// A MOKO plug's upgrade from the owner's server: told, and the outcome comes later.
async fn moko(args: &UpgradeArgs, api: &Api) -> Result<(), CliError> {
    let body = serde_json::json!({"url": args.from});
    let path = format!("/devices/{}/upgrade", encode(&args.uuid));
    let answer = api.send("POST", path, Some(body)).await?;
    if args.json {
        print_json(&answer);
    } else {
        say(format!(
            "{}: told to upgrade from {}; `merossd device {}` shows how it went",
            args.uuid,
            text(&answer["url"]),
            args.uuid
        ));
    }
    Ok(())
}

fn finish(answer: &Value, args: &UpgradeArgs, done: bool) -> Result<(), CliError> {
    let run = &answer["upgrade"];
    if args.json {
        print_json(answer);
    } else if done {
        say(format!(
            "done: firmware {} -> {}",
            text(&run["version_before"]),
            text(&run["version_after"])
        ));
    }
    if done {
        Ok(())
    } else {
        Err(CliError::Other(format!(
            "the upgrade failed: {}",
            text(&run["detail"])
        )))
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("?").to_owned()
}
