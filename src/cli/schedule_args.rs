//! The commands for what a device keeps and runs by itself, as clap reads them: `timers`
//! (list), `timer add | change | rm`, and `autooff`; flattened into the top-level
//! commands.

use clap::Subcommand;

/// A command to a device's timers or auto-off rules.
#[derive(Subcommand, Debug)]
pub enum ScheduleCommand {
    /// List a device's timers and auto-off rules (they run on the device itself).
    Timers {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// The API's answers as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make, change or remove a timer ("on at 07:00 on weekdays").
    Timer {
        /// add, change or rm.
        #[command(subcommand)]
        action: TimerAction,
    },
    /// Turn a channel off by itself N minutes after it is turned on (`--minutes`), or no
    /// more (`--remove`); without either, show the device's auto-off rules.
    Autooff {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// Which channel (a plug with one has channel 0).
        #[arg(long, default_value_t = 0)]
        channel: u32,
        /// Minutes after it is turned on, 1 to 1440.
        #[arg(long, conflicts_with = "remove")]
        minutes: Option<u32>,
        /// Only on these days (e.g. mon-fri; default every day).
        #[arg(long)]
        days: Option<String>,
        /// Remove the channel's auto-off.
        #[arg(long)]
        remove: bool,
        /// Print the API's answer as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What `merossd timer` does.
#[derive(Subcommand, Debug)]
pub enum TimerAction {
    /// Make a timer.
    Add {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name.
        uuid: String,
        /// The time of day, HH:MM, in the device's time zone.
        #[arg(long)]
        at: String,
        /// The days: mon-fri, sat,sun, daily, weekdays, weekends...
        #[arg(long)]
        days: String,
        /// Switch on then.
        #[arg(long, conflicts_with = "off", required_unless_present = "off")]
        on: bool,
        /// Switch off then.
        #[arg(long)]
        off: bool,
        /// Which channel (a plug with one has channel 0).
        #[arg(long, default_value_t = 0)]
        channel: u32,
        /// A name for it.
        #[arg(long)]
        name: Option<String>,
        /// Once, on the next of these days, instead of every week.
        #[arg(long)]
        once: bool,
        /// Print the API's answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a timer: what is not given stays.
    Change {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name.
        uuid: String,
        /// The timer's id, as `merossd timers` lists it.
        id: String,
        /// A new time of day, HH:MM.
        #[arg(long)]
        at: Option<String>,
        /// New days.
        #[arg(long)]
        days: Option<String>,
        /// Switch on then.
        #[arg(long, conflicts_with = "off")]
        on: bool,
        /// Switch off then.
        #[arg(long)]
        off: bool,
        /// Let it run.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Keep it, but do not let it run.
        #[arg(long)]
        disable: bool,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// Print the API's answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a timer.
    Rm {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name.
        uuid: String,
        /// The timer's id, as `merossd timers` lists it.
        id: String,
    },
}

impl ScheduleCommand {
    /// The device the command is for, as typed.
    pub(super) fn uuid_mut(&mut self) -> &mut String {
        match self {
            ScheduleCommand::Timers { uuid, .. } | ScheduleCommand::Autooff { uuid, .. } => uuid,
            ScheduleCommand::Timer { action } => match action {
                TimerAction::Add { uuid, .. }
                | TimerAction::Change { uuid, .. }
                | TimerAction::Rm { uuid, .. } => uuid,
            },
        }
    }
}
