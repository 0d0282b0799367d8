use super::*;

#[test]
fn empty_file_gives_the_documented_defaults() {
    let c = Config::parse("", "t").unwrap();
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(c.mqtt.tls_listen, vec!["0.0.0.0:8883".parse().unwrap()]);
    assert_eq!(c.mqtt.local_listen, Some("127.0.0.1:1883".parse().unwrap()));
    assert_eq!(c.api.listen, "127.0.0.1:8080".parse().unwrap());
    assert!(c.accounts.is_empty() && c.tls.is_none());
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let err = Config::parse("data_dir = \"x\"\n[mqtt]\ntls_listn = []\n", "f.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("f.toml, line 3"), "{err}");
    assert!(err.contains("tls_listn"), "{err}");
}

#[test]
fn wrong_type_is_named_with_its_line() {
    let err = Config::parse("[mqtt]\ntls_listen = 8883\n", "f.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("`mqtt.tls_listen`"), "{err}");
    let err = Config::parse("[api]\nmax_connections = \"lots\"\n", "f.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("`api.max_connections`"), "{err}");
}

#[test]
fn the_shipped_commented_config_is_the_defaults() {
    let shipped = Config::parse(include_str!("../../config/merossd.toml"), "merossd.toml")
        .expect("config/merossd.toml parses");
    let defaults = Config::default();
    assert_eq!(shipped.mqtt.max_tls_record, defaults.mqtt.max_tls_record);
    assert_eq!(shipped.mqtt.local_login, defaults.mqtt.local_login);
    assert_eq!(shipped.api.max_connections, defaults.api.max_connections);
    assert_eq!(shipped.log, defaults.log);
}

#[test]
fn the_packaged_config_is_the_shipped_one_but_for_its_data_dir() {
    let shipped = include_str!("../../config/merossd.toml");
    let packaged = include_str!("../../contrib/debian/merossd.toml");
    assert_eq!(shipped.lines().count(), packaged.lines().count());
    let differing: Vec<(&str, &str)> = shipped
        .lines()
        .zip(packaged.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(differing.len(), 2, "{differing:?}");
    let config = Config::parse(packaged, "contrib/debian/merossd.toml").unwrap();
    assert_eq!(config.data_dir, PathBuf::from("/var/lib/merossd"));
}

#[test]
fn empty_local_listen_disables_it() {
    let c = Config::parse("[mqtt]\nlocal_listen = \"\"\n", "t").unwrap();
    assert_eq!(c.mqtt.local_listen, None);
}

#[test]
fn account_key_is_hidden_from_debug() {
    let c = Config::parse("[[accounts]]\nuser_id = \"1234\"\nkey = \"testkey\"\n", "t").unwrap();
    assert!(!format!("{c:?}").contains("testkey"));
}

#[test]
fn unknown_time_zone_is_named() {
    let err = Config::parse("[time]\ntimezone = \"Mars/Olympus\"\n", "t")
        .unwrap_err()
        .to_string();
    assert!(err.contains("time.timezone"), "{err}");
    assert!(Config::parse("[time]\ntimezone = \"Asia/Kolkata\"\n", "t").is_ok());
}

#[test]
fn non_numeric_user_id_is_refused() {
    let err = Config::parse("[[accounts]]\nuser_id = \"bob\"\nkey = \"k\"\n", "t")
        .unwrap_err()
        .to_string();
    assert!(err.contains("accounts[0].user_id"), "{err}");
}
