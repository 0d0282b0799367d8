//! Topic filters as MQTT 3.1.1 §4.7 defines them: which topics a filter matches, and
//! whether a string is a well-formed filter or topic at all. Pure functions on `&str`
//! that split on `/` and never index into a string, so no input can make them panic.

/// Whether `filter` matches `topic`. A topic starting with `$` is matched only by a filter
/// that starts with the same literal level (§4.7.2): `#` and `+/...` do not reach `$SYS`.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && !filter.starts_with('$') {
        return false;
    }
    let mut levels = topic.split('/');
    for part in filter.split('/') {
        match part {
            "#" => return true,
            "+" => {
                if levels.next().is_none() {
                    return false;
                }
            }
            literal => {
                if levels.next() != Some(literal) {
                    return false;
                }
            }
        }
    }
    levels.next().is_none()
}

/// Whether `filter` is a well-formed filter: not empty, `#` only as a whole last level,
/// `+` only as a whole level, no NUL.
pub fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.contains('\0') {
        return false;
    }
    let mut parts = filter.split('/').peekable();
    while let Some(part) = parts.next() {
        let last = parts.peek().is_none();
        let wild = part.contains(['+', '#']);
        if wild && !(part == "+" || (part == "#" && last)) {
            return false;
        }
    }
    true
}

/// Whether `topic` is a well-formed topic name: not empty, no wildcard, no NUL.
pub fn valid_topic(topic: &str) -> bool {
    !topic.is_empty() && !topic.contains(['+', '#', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_the_standard_says() {
        let yes = [
            ("a/b", "a/b"),
            ("a/+", "a/b"),
            ("a/#", "a/b/c"),
            ("a/#", "a"),
            ("#", "a/b"),
            ("+/+", "/b"),
            ("+", ""),
            (
                "homeassistant/+/+/+/config",
                "homeassistant/switch/x/relay/config",
            ),
            ("$SYS/#", "$SYS/x"),
        ];
        let no = [
            ("a/b", "a/c"),
            ("a/+", "a/b/c"),
            ("a/+", "a"),
            ("#", "$SYS/x"),
            ("+/x", "$SYS/x"),
            ("a/b/c", "a/b"),
            ("é/+", "e/x"),
        ];
        for (f, t) in yes {
            assert!(matches(f, t), "{f} should match {t}");
        }
        for (f, t) in no {
            assert!(!matches(f, t), "{f} should not match {t}");
        }
    }

    #[test]
    fn malformed_filters_and_topics_are_told_apart() {
        for good in ["#", "+", "a/+/b", "a/#", "/", "é/ü", "+/+/#"] {
            assert!(valid_filter(good), "{good}");
        }
        for bad in ["", "a#", "a/#/b", "a+/b", "+a", "#/a", "a\0b"] {
            assert!(!valid_filter(bad), "{bad:?}");
        }
        assert!(valid_topic("é/x") && valid_topic("/"));
        assert!(!valid_topic("") && !valid_topic("a/+") && !valid_topic("a/#"));
    }

    proptest::proptest! {
        #[test]
        fn any_strings_match_without_panic(f in "\\PC{0,12}", t in "\\PC{0,12}") {
            let _ = matches(&f, &t);
            let _ = valid_filter(&f);
            let _ = valid_topic(&t);
        }
    }
}
