//! Rename templates for uploaded names: `{date}_{time}_{camera}_{seq}` and the like, so a
//! gallery sorts by when the picture was taken whatever camera took it. A template is
//! checked when its source is saved; an unknown field, an unclosed brace, a path separator
//! or a template with nothing that tells two frames apart is refused with the reason.

/// The fields a template may use.
pub const FIELDS: [&str; 6] = ["date", "time", "camera", "seq", "original", "rating"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(&'static str),
}

/// A checked template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    pieces: Vec<Piece>,
}

/// What a template is filled with for one frame.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    /// "YYYY:MM:DD HH:MM:SS" as EXIF writes it, the source's clock offset applied.
    pub capture_time: Option<String>,
    pub camera: Option<String>,
    /// The frame's number in its source (1, 2, …).
    pub seq: u64,
    /// The camera file's name without its extension.
    pub original: String,
    pub rating: Option<i64>,
}

impl Template {
    /// Checks `text`; the error names what is wrong and where.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                Some(i) if rest.as_bytes()[i] == b'}' => {
                    return Err(format!(
                        "a `}}` without its `{{` at character {}",
                        text.len() - rest.len() + i + 1
                    ))
                }
                Some(i) => {
                    if i > 0 {
                        pieces.push(Piece::Text(rest[..i].to_string()));
                    }
                    let Some(end) = rest[i..].find('}') else {
                        return Err(format!(
                            "`{{` at character {} is never closed",
                            text.len() - rest.len() + i + 1
                        ));
                    };
                    let name = &rest[i + 1..i + end];
                    let field = FIELDS.iter().find(|f| **f == name).ok_or_else(|| {
                        format!(
                            "unknown field {{{name}}}: the fields are {}",
                            FIELDS.map(|f| format!("{{{f}}}")).join(" ")
                        )
                    })?;
                    pieces.push(Piece::Field(field));
                    rest = &rest[i + end + 1..];
                }
                None => {
                    pieces.push(Piece::Text(rest.to_string()));
                    rest = "";
                }
            }
        }
        if let Some(bad) = text.chars().find(|c| matches!(c, '/' | '\\' | ':' | '\0')) {
            return Err(format!("{bad:?} may not be part of a file name"));
        }
        if !pieces.iter().any(|p| matches!(p, Piece::Field("seq" | "original" | "time"))) {
            return Err("it needs {seq}, {original} or {time}: otherwise two frames get the same name".into());
        }
        Ok(Template { text: text.to_string(), pieces })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The name for one frame (a missing value becomes `unknown`, or 0 for a rating).
    pub fn render(&self, fields: &Fields) -> String {
        let time = fields.capture_time.as_deref().filter(|t| t.len() >= 19);
        self.pieces
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) => text.clone(),
                Piece::Field("date") => time.map_or("unknown".into(), |t| t[..10].replace(':', "-")),
                Piece::Field("time") => time.map_or("unknown".into(), |t| t[11..19].replace(':', "")),
                Piece::Field("camera") => fields.camera.as_deref().map_or("unknown".into(), clean),
                Piece::Field("seq") => format!("{:04}", fields.seq),
                Piece::Field("original") => fields.original.clone(),
                Piece::Field("rating") => fields.rating.unwrap_or(0).to_string(),
                Piece::Field(_) => String::new(),
            })
            .collect()
    }
}

/// A camera name fit for a file name: `Canon EOS 5D Mark IV` → `Canon-EOS-5D-Mark-IV`.
fn clean(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join("-")
}

/// "YYYY:MM:DD HH:MM:SS" moved by `seconds` (a body whose clock is off); None if it does
/// not parse.
pub fn shift_time(exif: &str, seconds: i64) -> Option<String> {
    let n = |range: std::ops::Range<usize>| exif.get(range)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, s) = (n(11..13)?, n(14..16)?, n(17..19)?);
    let days = days_from_civil(y, mo, d);
    let total = days * 86_400 + h * 3600 + mi * 60 + s + seconds;
    let (days, secs) = (total.div_euclid(86_400), total.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    Some(format!("{y:04}:{mo:02}:{d:02} {:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_fills_each_field_and_a_bad_one_is_refused_with_the_reason() {
        let t = Template::parse("{date}_{time}_{camera}_{seq}").expect("valid");
        let fields = Fields {
            capture_time: Some("2026:06:13 17:04:09".into()),
            camera: Some("Canon EOS R5".into()),
            seq: 7,
            original: "IMG_0042".into(),
            rating: Some(4),
        };
        assert_eq!(t.render(&fields), "2026-06-13_170409_Canon-EOS-R5_0007");
        let t = Template::parse("smith-wedding-{original}-r{rating}").expect("valid");
        assert_eq!(t.render(&fields), "smith-wedding-IMG_0042-r4");
        assert_eq!(t.render(&Fields { original: "X".into(), ..Fields::default() }), "smith-wedding-X-r0");

        let refused = |text: &str| Template::parse(text).expect_err(text);
        assert!(
            refused("{date}_{sequence}").contains("unknown field {sequence}"),
            "{}",
            refused("{date}_{sequence}")
        );
        assert!(refused("{date}_{seq").contains("never closed"));
        assert!(refused("{date}}_{seq}").contains("without its"));
        assert!(refused("{date}/{seq}").contains("'/'"));
        assert!(refused("{date}_{camera}").contains("same name"));
    }

    #[test]
    fn a_clock_offset_moves_the_capture_time_across_days_and_years() {
        assert_eq!(shift_time("2026:06:13 17:04:09", 90).as_deref(), Some("2026:06:13 17:05:39"));
        assert_eq!(shift_time("2026:12:31 23:59:30", 45).as_deref(), Some("2027:01:01 00:00:15"));
        assert_eq!(shift_time("2024:03:01 00:10:00", -3600).as_deref(), Some("2024:02:29 23:10:00"));
        assert_eq!(shift_time("not a time", 5), None);
    }
}
