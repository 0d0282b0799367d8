//! The days and times of timers and auto-off rules, as people say them and as the firmware
//! keeps them: `week` is a bitmask with Sunday as bit 0 ... Saturday bit 6, and bit 7
//! meaning "repeat every week" (seeds/000 and arandall's notes: Monday is `0b10000010`);
//! `time` is the minute of the day in the device's time zone.

use super::CommandError;

/// Day names, bit 0 first.
pub const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// The repeat bit of `week`.
pub const REPEAT: u8 = 0x80;

/// The days a `week` mask names, Monday first as a person reads a week.
pub fn names(week: u8) -> Vec<&'static str> {
    (1..=7)
        .map(|i| i % 7)
        .filter(|bit| week & (1 << bit) != 0)
        .map(|bit| DAYS[bit])
        .collect()
}

/// Days as people write them: `mon-fri`, `sat,sun`, `mon,wed-fri`, `daily`, `weekdays`,
/// `weekends` (case does not matter); the bits of a `week` mask without the repeat bit.
pub fn parse_days(text: &str) -> Result<u8, CommandError> {
    let mut bits = 0u8;
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        bits |= parse_part(&part.to_ascii_lowercase())?;
    }
    if bits == 0 {
        return Err(invalid_days(
            "no day named: give e.g. `mon-fri`, `sat,sun` or `daily`",
        ));
    }
    Ok(bits)
}

/// A list of day names or ranges (what the API takes): the same as [`parse_days`] of
/// them joined.
pub fn parse_day_list(list: &[String]) -> Result<u8, CommandError> {
    parse_days(&list.join(","))
}

fn parse_part(part: &str) -> Result<u8, CommandError> {
    match part {
        "daily" | "every day" | "everyday" | "all" => return Ok(0x7f),
        "weekdays" | "weekday" => return Ok(0b0011_1110),
        "weekends" | "weekend" => return Ok(0b0100_0001),
        _ => {}
    }
    let (from, to) = match part.split_once('-') {
        Some((a, b)) => (day(a.trim())?, day(b.trim())?),
        None => (day(part)?, day(part)?),
    };
    // Monday-first positions, so that `fri-mon` wraps over the weekend.
    let (mut i, end) = ((from + 6) % 7, (to + 6) % 7);
    let mut bits = 0u8;
    for _ in 0..7 {
        bits |= 1 << ((i + 1) % 7);
        if i == end {
            break;
        }
        i = (i + 1) % 7;
    }
    Ok(bits)
}

fn day(name: &str) -> Result<usize, CommandError> {
    let short: String = name.chars().take(3).collect();
    DAYS.iter()
        .position(|d| *d == short && (name.len() == 3 || full(d).starts_with(name)))
        .ok_or_else(|| {
            invalid_days(&format!(
                "`{name}` is not a day: use mon, tue, wed, thu, fri, sat, sun (or ranges such as mon-fri)"
            ))
        })
}

fn full(short: &str) -> &'static str {
    match short {
        "sun" => "sunday",
        "mon" => "monday",
        "tue" => "tuesday",
        "wed" => "wednesday",
        "thu" => "thursday",
        "fri" => "friday",
        _ => "saturday",
    }
}

fn invalid_days(detail: &str) -> CommandError {
    CommandError::Invalid {
        field: "days",
        detail: detail.to_owned(),
    }
}

/// `HH:MM` (24-hour) to the minute of the day.
pub fn parse_time(text: &str) -> Result<u16, CommandError> {
    let invalid = || CommandError::Invalid {
        field: "at",
        detail: format!("`{text}` is not a time of day: give HH:MM from 00:00 to 23:59"),
    };
    let (h, m) = text.trim().split_once(':').ok_or_else(invalid)?;
    let (h, m): (u16, u16) = (
        h.parse().map_err(|_| invalid())?,
        m.parse().map_err(|_| invalid())?,
    );
    if h > 23 || m > 59 || text.trim().len() > 5 {
        return Err(invalid());
    }
    Ok(h * 60 + m)
}

/// The minute of the day as `HH:MM`.
pub fn time_text(minute: u16) -> String {
    format!("{:02}:{:02}", (minute / 60) % 24, minute % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_read_as_people_write_them_and_as_the_firmware_keeps_them() {
        // seeds/000: Monday is 0b10000010 with the repeat bit.
        assert_eq!(parse_days("mon").unwrap() | REPEAT, 0b1000_0010);
        assert_eq!(parse_days("mon-fri").unwrap(), 0b0011_1110);
        assert_eq!(parse_days("Sat, Sun").unwrap(), 0b0100_0001);
        assert_eq!(parse_days("fri-mon").unwrap(), 0b0110_0011);
        assert_eq!(parse_days("daily").unwrap(), 0x7f);
        assert_eq!(parse_days("monday,wednesday").unwrap(), 0b0000_1010);
        assert_eq!(names(0b1011_1110), ["mon", "tue", "wed", "thu", "fri"]);
        assert_eq!(names(129), ["sun"]);
        for bad in ["", " , ", "funday", "mon-", "moon"] {
            let e = parse_days(bad).unwrap_err();
            assert!(
                matches!(e, CommandError::Invalid { field: "days", .. }),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn times_of_day_are_minutes_and_25_00_is_refused() {
        assert_eq!(parse_time("07:00").unwrap(), 420);
        assert_eq!(parse_time("20:52").unwrap(), 1252);
        assert_eq!(time_text(1252), "20:52");
        for bad in ["25:00", "7", "07:60", "-1:00", "07:00:00", "ab:cd"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
