//! The device families' commands as clap reads them (`light`, `thermostat`, `garage`,
//! `cover`, `spray`, `dnd`, `subdevice`), flattened into the top-level commands, and the
//! values they take.

use clap::Subcommand;

/// A command to one of a device's families.
#[derive(Subcommand, Debug)]
pub enum FamilyCommand {
    /// Show a light or dimmer, or change it: on or off, brightness, a colour or a white.
    Light {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// Which light (a device with one has channel 0).
        #[arg(long, default_value_t = 0)]
        channel: u32,
        /// Switch it on.
        #[arg(long, conflicts_with = "off")]
        on: bool,
        /// Switch it off.
        #[arg(long)]
        off: bool,
        /// Brightness in percent, 1 to 100.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=100))]
        brightness: Option<u8>,
        /// Colour as six hex digits, rrggbb (e.g. ff8800); a light shows a colour or a
        /// white, so not with --temperature.
        #[arg(long, conflicts_with = "temperature")]
        rgb: Option<String>,
        /// White of colour temperature 1 (warmest) to 100 (coldest).
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=100))]
        temperature: Option<u8>,
        /// Print the API's answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a thermostat, or change it: on or off, its mode, the temperature to hold.
    Thermostat {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// Which thermostat (a device with one has channel 0).
        #[arg(long, default_value_t = 0)]
        channel: u32,
        /// Switch it on.
        #[arg(long, conflicts_with = "off")]
        on: bool,
        /// Switch it off.
        #[arg(long)]
        off: bool,
        /// A mode it has: heat, cool, eco, auto or manual (MTS200); heat_cool, schedule
        /// or timer (MTS960).
        #[arg(long)]
        mode: Option<String>,
        /// The temperature to hold, in °C, e.g. 21.5 (within its range; on an MTS200 the
        /// set point of its heat, cool or eco mode, else it goes manual to hold it).
        #[arg(long, value_parser = parse_celsius)]
        target: Option<f64>,
        /// Print the API's answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Open or close a garage door.
    Garage {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// open or close
        #[arg(value_enum, ignore_case = true)]
        action: DoorAction,
        /// Which door: 0 on an MSG100, 1 to 3 on an MSG200.
        #[arg(long, default_value_t = 0)]
        channel: u32,
        /// Print the API's answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move a roller shutter: open, close, stop, or to a position with --position.
    Cover {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// open, close or stop (or give --position instead)
        #[arg(
            value_enum,
            ignore_case = true,
            required_unless_present = "position",
            conflicts_with = "position"
        )]
        action: Option<CoverAction>,
        /// Where to move it, in percent: 0 (closed) to 100 (open).
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
        position: Option<u8>,
        /// Which shutter (a device with one has channel 0).
        #[arg(long, default_value_t = 0)]
        channel: u32,
        /// Print the API's answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set the spray of a diffuser or humidifier.
    Spray {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// eco, full or off (MOD100 diffuser); off, continuous or intermittent (MSXH0
        /// humidifier).
        mode: String,
        /// Which spray (a device with one has channel 0).
        #[arg(long, default_value_t = 0)]
        channel: u32,
        /// Print the API's answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Switch a device's do-not-disturb mode: on keeps its LED off.
    Dnd {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// on or off
        #[arg(value_enum, ignore_case = true)]
        state: OnOff,
        /// Print the API's answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start a MOKO plug's countdown: it switches to the other state after MINUTES
    /// (0 cancels the running one).
    Countdown {
        /// The device: its id, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// Minutes, 0 to 1439.
        minutes: u32,
        /// Print the API's answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a hub's sub-device (a radiator valve, a sensor), or change a valve: on or
    /// off, its mode, the temperature to hold.
    Subdevice {
        /// The hub: its uuid, a unique start of it (4 characters or more) or its name, as
        /// `merossd devices` lists them.
        uuid: String,
        /// The sub-device's id on the hub, as `merossd device` lists it (e.g. 01008C11).
        id: String,
        /// Switch the valve on.
        #[arg(long, conflicts_with = "off")]
        on: bool,
        /// Switch the valve off.
        #[arg(long)]
        off: bool,
        /// The valve's mode: custom, comfort, economy, auto or away.
        #[arg(long)]
        mode: Option<String>,
        /// The temperature to hold, in °C, e.g. 21 (the valve goes to custom mode to
        /// hold it).
        #[arg(long, value_parser = parse_celsius)]
        target: Option<f64>,
        /// Print the API's answer as JSON.
        #[arg(long)]
        json: bool,
    },
}

impl FamilyCommand {
    /// The device the command is for, as typed (every family command has one).
    pub(super) fn uuid_mut(&mut self) -> &mut String {
        match self {
            FamilyCommand::Light { uuid, .. }
            | FamilyCommand::Thermostat { uuid, .. }
            | FamilyCommand::Garage { uuid, .. }
            | FamilyCommand::Cover { uuid, .. }
            | FamilyCommand::Spray { uuid, .. }
            | FamilyCommand::Dnd { uuid, .. }
            | FamilyCommand::Countdown { uuid, .. }
            | FamilyCommand::Subdevice { uuid, .. } => uuid,
        }
    }
}

/// What `garage` is to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DoorAction {
    /// Open the door.
    Open,
    /// Close the door.
    Close,
}

/// What `cover` is to do, where no `--position` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CoverAction {
    /// All the way up.
    Open,
    /// All the way down.
    Close,
    /// Stop where it is.
    Stop,
}

/// On or off, as `dnd` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    /// Do-not-disturb on: the LED stays off.
    On,
    /// Do-not-disturb off.
    Off,
}

/// A temperature in °C, as `--target` takes it: a finite number.
pub fn parse_celsius(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(c) if c.is_finite() => Ok(c),
        _ => Err(format!(
            "`{text}` is not a temperature: a number of °C, like 21.5"
        )),
    }
}
