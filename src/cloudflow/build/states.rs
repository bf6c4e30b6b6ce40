//! The builders of the state types other than Task (see [`super::task`]):
//! Wait, Fail, Choice, Parallel and Map, and the `{StartAt, States}`
//! blocks of Parallel branches and Map processors.

use super::super::expr::Place;
use super::super::model::*;
use super::{Builder, Fields};
use crate::syntax::yaml::{Data, Node};

impl Builder {
    pub(super) fn wait(&mut self, f: &Fields<'_>, what: &str) -> StateKind {
        let fallback = StateKind::Wait(Wait::Seconds(1));
        let max = self.mode.max_wait_seconds();
        match (f.get("Seconds"), f.get("Seconds.$")) {
            (Some(_), Some(_)) => {
                let at = f.entry("Seconds.$").map_or(f.pos, |e| e.key_pos);
                self.err(
                    at,
                    format!("{what} has both `Seconds` and `Seconds.$`; keep one"),
                );
                fallback
            }
            (None, None) => {
                self.err(
                    f.pos,
                    format!("{what} is missing `Seconds` (or `Seconds.$`)"),
                );
                fallback
            }
            (Some(n), None) => match n.data {
                Data::Int(i) if i >= 1 && i.unsigned_abs() <= max => {
                    StateKind::Wait(Wait::Seconds(i.unsigned_abs()))
                }
                Data::Int(i) => {
                    self.err(
                        n.pos,
                        format!(
                            "`Seconds` must be from 1 to {max} in {} mode, found {i}",
                            self.mode.as_str()
                        ),
                    );
                    fallback
                }
                _ => {
                    self.err(
                        n.pos,
                        format!(
                            "`Seconds` must be a whole number of seconds, found {}; use `Seconds.$` for an expression",
                            n.kind()
                        ),
                    );
                    fallback
                }
            },
            (None, Some(n)) => {
                let Some(text) = n.as_str() else {
                    self.err(
                        n.pos,
                        format!(
                            "`Seconds.$` must be an expression such as `$Input.delay`, found {}",
                            n.kind()
                        ),
                    );
                    return fallback;
                };
                match self.d.expr(n, text, "Seconds.$", Place::INPUT) {
                    Some(e) => StateKind::Wait(Wait::Expr(e)),
                    None => fallback,
                }
            }
        }
    }

    pub(super) fn fail(&mut self, f: &Fields<'_>, what: &str) -> StateKind {
        let code = f
            .get("Code")
            .and_then(|n| self.string(n, "Code"))
            .map(str::to_owned);
        let detail = self
            .required(f, "Detail", what)
            .and_then(|n| self.text(n, "Detail"))
            .unwrap_or_default();
        StateKind::Fail(Fail { code, detail })
    }

    pub(super) fn choice(&mut self, f: &Fields<'_>, what: &str) -> StateKind {
        let mut branches = Vec::new();
        if let Some(n) = self.required(f, "Branches", what) {
            match n.as_seq() {
                Some([]) => self.err(
                    n.pos,
                    "`Branches` is empty; add at least one `{Condition, Next}`",
                ),
                Some(items) => {
                    for item in items {
                        let Some(bf) = self.fields(
                            item,
                            "a choice branch",
                            Some(&["Condition", "Next"]),
                            &|_| None,
                        ) else {
                            continue;
                        };
                        let condition = self
                            .required(&bf, "Condition", "the choice branch")
                            .and_then(|c| self.d.condition(c));
                        let next = match self.required(&bf, "Next", "the choice branch") {
                            Some(n) => self.target(n, "Next"),
                            None => {
                                self.mark_broken();
                                None
                            }
                        };
                        if let (Some(condition), Some(next)) = (condition, next) {
                            branches.push(ChoiceBranch {
                                condition,
                                next,
                                pos: item.pos,
                            });
                        }
                    }
                }
                None => self.err(
                    n.pos,
                    format!("`Branches` must be a list, found {}", n.kind()),
                ),
            }
        }
        let default = match f.get("Default") {
            Some(n) => self.target(n, "Default"),
            None => {
                self.err(
                    f.pos,
                    format!(
                        "{what} is missing `Default`: CloudFlow requires it (the state to go to when no branch matches)"
                    ),
                );
                self.mark_broken();
                None
            }
        };
        StateKind::Choice(Choice {
            branches,
            default: default.unwrap_or(Target {
                name: String::new(),
                index: 0,
                pos: f.pos,
            }),
        })
    }

    /// A `{StartAt, States}` mapping (a Parallel branch, a Map processor).
    fn sub_block(&mut self, node: &Node, what: &str) -> Option<Block> {
        let f = self.fields(node, what, Some(&["StartAt", "States"]), &|_| None)?;
        self.block(f.get("States"), f.get("StartAt"), &f, what)
    }

    pub(super) fn parallel(&mut self, f: &Fields<'_>, what: &str) -> StateKind {
        let mut branches = Vec::new();
        if let Some(n) = self.required(f, "Branches", what) {
            match n.as_seq() {
                Some([]) => self.err(
                    n.pos,
                    "`Branches` is empty; add at least one `{StartAt, States}`",
                ),
                Some(items) => {
                    if items.len() > MAX_PARALLEL_BRANCHES {
                        self.err(
                            n.pos,
                            format!(
                                "a Parallel state has at most {MAX_PARALLEL_BRANCHES} branches, found {}",
                                items.len()
                            ),
                        );
                    }
                    for (i, item) in items.iter().enumerate() {
                        if let Some(b) = self.sub_block(item, &format!("branch {i} of {what}")) {
                            branches.push(b);
                        }
                    }
                }
                None => self.err(
                    n.pos,
                    format!("`Branches` must be a list, found {}", n.kind()),
                ),
            }
        }
        let (retry, catch) = self.errors(f);
        StateKind::Parallel(Parallel {
            branches,
            retry,
            catch,
        })
    }

    pub(super) fn map(&mut self, f: &Fields<'_>, what: &str) -> StateKind {
        let items_path = self.required(f, "ItemsPath", what).and_then(|n| {
            let Some(text) = n.as_str() else {
                self.err(
                    n.pos,
                    format!(
                        "`ItemsPath` must be an expression such as `$Input.items`, found {}",
                        n.kind()
                    ),
                );
                return None;
            };
            self.d.expr(n, text, "ItemsPath", Place::INPUT)
        });
        let processor = self
            .required(f, "Processor", what)
            .and_then(|n| self.sub_block(n, &format!("the Processor of {what}")));
        let max_concurrency = match (f.get("MaxConcurrency"), f.get("MaxConcuccency")) {
            (Some(_), Some(_)) => {
                let at = f.entry("MaxConcuccency").map_or(f.pos, |e| e.key_pos);
                self.err(
                    at,
                    "both `MaxConcurrency` and `MaxConcuccency` (the docs' spelling) are set; keep one",
                );
                None
            }
            (Some(n), None) => self.uint(n, "MaxConcurrency", 1, MAX_MAP_CONCURRENCY.into()),
            (None, Some(n)) => self.uint(n, "MaxConcuccency", 1, MAX_MAP_CONCURRENCY.into()),
            (None, None) => None,
        };
        let (retry, catch) = self.errors(f);
        let (Some(items_path), Some(processor)) = (items_path, processor) else {
            return StateKind::Pass;
        };
        StateKind::Map(Box::new(MapState {
            items_path,
            processor,
            max_concurrency: max_concurrency.and_then(|m| u32::try_from(m).ok()),
            retry,
            catch,
        }))
    }
}
