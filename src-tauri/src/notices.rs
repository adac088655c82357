//! What the desktop is told without the window open: a gallery that has all gone up, a
//! card that has become safe to format, a destination that stopped taking uploads (and
//! that it came back). Worked out from the engine's deltas, each said once when it
//! happens, not on every delta.

use std::collections::HashSet;

use wedsync_engine::Delta;

#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Everything queued is verified on the server.
    AllSent {
        verified: u64,
    },
    CardSafe {
        card: String,
    },
    Trouble(String),
    Recovered,
}

impl Notice {
    pub fn title(&self) -> &'static str {
        match self {
            Notice::AllSent { .. } => "Gallery sent",
            Notice::CardSafe { .. } => "Card safe to format",
            Notice::Trouble(_) => "Uploads are waiting",
            Notice::Recovered => "Uploads go on",
        }
    }

    pub fn body(&self) -> String {
        match self {
            Notice::AllSent { verified } => format!("All {verified} uploads are verified on the server."),
            Notice::CardSafe { card } => format!("Every file on {card} is safe: the card can be formatted."),
            Notice::Trouble(why) => why.clone(),
            Notice::Recovered => "The server answers again; the uploads have resumed.".into(),
        }
    }
}

/// The state the notices are changes of.
#[derive(Default)]
pub struct Milestones {
    left: u64,
    safe: HashSet<String>,
    trouble: Option<String>,
    started: bool,
}

impl Milestones {
    /// The notices `delta` brings. The first delta only sets the scene: what was already so
    /// when the app opened is not news.
    pub fn observe(&mut self, delta: &Delta) -> Vec<Notice> {
        let mut notices = Vec::new();
        let t = &delta.totals;
        let left = t.uploads_left + t.files_waiting as u64;
        if self.started && self.left > 0 && left == 0 && t.uploads_failed == 0 {
            notices.push(Notice::AllSent { verified: t.uploads_verified });
        }
        self.left = left;
        if let Some(cards) = &delta.cards {
            for card in cards.iter().filter(|c| c.all_safe) {
                if self.safe.insert(card.id.clone()) && self.started {
                    notices.push(Notice::CardSafe {
                        card: card.label.clone().unwrap_or_else(|| card.id.clone()),
                    });
                }
            }
        }
        match (&self.trouble, &t.unreachable) {
            (None, Some(why)) if self.started => notices.push(Notice::Trouble(why.clone())),
            (Some(_), None) => notices.push(Notice::Recovered),
            _ => {}
        }
        self.trouble = t.unreachable.clone();
        self.started = true;
        notices
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wedsync_engine::{CardRow, Totals};

    fn delta(left: u64, verified: u64, unreachable: Option<&str>, cards: Option<Vec<CardRow>>) -> Delta {
        Delta {
            rows: Vec::new(),
            totals: Totals {
                uploads_verified: verified,
                uploads_left: left,
                unreachable: unreachable.map(str::to_string),
                ..Totals::default()
            },
            cards,
            sources: None,
        }
    }

    fn card(all_safe: bool) -> CardRow {
        CardRow {
            id: "uuid-1".into(),
            label: Some("EOS_DIGITAL".into()),
            mounted_at: None,
            files: 2,
            safe: if all_safe { 2 } else { 1 },
            all_safe,
        }
    }

    #[test]
    fn each_milestone_is_said_once_when_it_happens() {
        let mut m = Milestones::default();
        assert_eq!(m.observe(&delta(3, 0, None, Some(vec![card(false)]))), []);
        assert_eq!(m.observe(&delta(1, 2, None, None)), []);
        assert_eq!(
            m.observe(&delta(0, 3, None, Some(vec![card(true)]))),
            [Notice::AllSent { verified: 3 }, Notice::CardSafe { card: "EOS_DIGITAL".into() }]
        );
        assert_eq!(m.observe(&delta(0, 3, None, Some(vec![card(true)]))), [], "not again");
        let down = m.observe(&delta(2, 3, Some("no answer"), None));
        assert_eq!(down, [Notice::Trouble("no answer".into())]);
        assert_eq!(m.observe(&delta(2, 3, Some("no answer"), None)), [], "not again");
        assert_eq!(m.observe(&delta(1, 4, None, None)), [Notice::Recovered]);
    }

    #[test]
    fn what_was_so_when_the_app_opened_is_not_news() {
        let mut m = Milestones::default();
        assert_eq!(m.observe(&delta(0, 9, Some("no answer"), Some(vec![card(true)]))), []);
    }
}
