//! editor: the small forms the TUI opens (a new execution's input, a
//! report's output, a failure's error and cause), with JSON checked as the
//! user types.
//!
//! Owns the text, the cursor and the validation of its fields. Pure: it
//! knows nothing of the simulation; `App` decides what submitting means.

use serde_json::Value;

/// One single-line text field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub label: &'static str,
    pub text: String,
    /// The cursor, in characters.
    pub cursor: usize,
    /// Whether the text must be a JSON object.
    pub json: bool,
    /// Whether the text may be empty.
    pub required: bool,
}

impl Field {
    /// A field holding `text`, the cursor at its end.
    pub fn new(label: &'static str, text: &str, json: bool) -> Field {
        Field {
            label,
            text: text.to_owned(),
            cursor: text.chars().count(),
            json,
            required: json,
        }
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// Inserts a character at the cursor.
    pub fn insert(&mut self, c: char) {
        let at = self.byte_at(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
    }

    /// Inserts text at the cursor (a paste), the cursor after it.
    pub fn insert_str(&mut self, text: &str) {
        let at = self.byte_at(self.cursor);
        self.text.insert_str(at, text);
        self.cursor += text.chars().count();
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
    }

    /// Deletes the character at the cursor.
    pub fn delete(&mut self) {
        if self.cursor < self.text.chars().count() {
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
    }

    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.text.chars().count());
    }

    pub fn home(&mut self) {
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.cursor = self.text.chars().count();
    }

    /// Deletes from the start of the field to the cursor (Ctrl-U).
    pub fn kill_to_start(&mut self) {
        let at = self.byte_at(self.cursor);
        self.text.replace_range(..at, "");
        self.cursor = 0;
    }

    /// Deletes from the cursor to the end of the field (Ctrl-K).
    pub fn kill_to_end(&mut self) {
        let at = self.byte_at(self.cursor);
        self.text.truncate(at);
    }

    /// Deletes the word before the cursor and the spaces after it (Ctrl-W,
    /// as readline: a word is a run of characters other than spaces).
    pub fn kill_word(&mut self) {
        let chars: Vec<char> = self.text.chars().collect();
        let mut start = self.cursor.min(chars.len());
        while start > 0 && chars[start - 1].is_whitespace() {
            start -= 1;
        }
        while start > 0 && !chars[start - 1].is_whitespace() {
            start -= 1;
        }
        let (from, to) = (self.byte_at(start), self.byte_at(self.cursor));
        self.text.replace_range(from..to, "");
        self.cursor = start;
    }

    /// `Ok(())` when the field may be submitted, else why not.
    pub fn check(&self) -> Result<(), String> {
        if self.json {
            match serde_json::from_str::<Value>(&self.text) {
                Ok(Value::Object(_)) => Ok(()),
                Ok(_) => Err("must be a JSON object: {...}".into()),
                Err(e) => Err(format!("invalid JSON: {}", json_error(&self.text, &e))),
            }
        } else if self.required && self.text.trim().is_empty() {
            Err(format!("{} is required", self.label))
        } else {
            Ok(())
        }
    }
}

/// serde_json's error with its column counted in characters (it counts
/// bytes, which misplaces it after any non-ASCII text).
fn json_error(text: &str, e: &serde_json::Error) -> String {
    let full = e.to_string();
    if e.line() == 0 {
        return full;
    }
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let Some(msg) = full.strip_suffix(&suffix) else {
        return full;
    };
    let line = text.split('\n').nth(e.line() - 1).unwrap_or("");
    let bytes = e.column().min(line.len());
    let mut boundary = bytes;
    while !line.is_char_boundary(boundary) {
        boundary -= 1;
    }
    let column = line[..boundary].chars().count() + usize::from(boundary < bytes);
    format!("{msg} at line {} column {column}", e.line())
}

/// What submitting an editor does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// Start an execution of this flow with the input.
    NewExecution { flow: String },
    /// ReportTaskSucceeded with the output.
    ReportSuccess { target: Target },
    /// ReportTaskFailed with error and cause.
    ReportFailure { target: Target },
}

/// What a report answers: a task by its token, or a held notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Task { token: String, step: String },
    Held { id: u64 },
}

/// An open form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Editor {
    pub title: String,
    pub purpose: Purpose,
    pub fields: Vec<Field>,
    /// The field with the cursor.
    pub active: usize,
}

impl Editor {
    /// The form for a new execution's input.
    pub fn new_execution(flow: &str, input: &str) -> Editor {
        Editor {
            title: format!("New execution of {flow}"),
            purpose: Purpose::NewExecution { flow: flow.into() },
            fields: vec![Field::new("Input", input, true)],
            active: 0,
        }
    }

    /// The form for ReportTaskSucceeded (on a token), or for answering a
    /// held push with success (as the function).
    pub fn report_success(target: Target, what: &str) -> Editor {
        let title = match target {
            Target::Task { .. } => format!("ReportTaskSucceeded: {what}"),
            Target::Held { .. } => format!("Answer as the function, success: {what}"),
        };
        Editor {
            title,
            purpose: Purpose::ReportSuccess { target },
            fields: vec![Field::new("Output", DEFAULT_OUTPUT, true)],
            active: 0,
        }
    }

    /// The form for ReportTaskFailed (on a token), or for answering a held
    /// push with a failure (as the function).
    pub fn report_failure(target: Target, what: &str) -> Editor {
        let mut error = Field::new("Error", "UserError", false);
        error.required = true;
        let title = match target {
            Target::Task { .. } => format!("ReportTaskFailed: {what}"),
            Target::Held { .. } => format!("Answer as the function, failure: {what}"),
        };
        Editor {
            title,
            purpose: Purpose::ReportFailure { target },
            fields: vec![error, Field::new("Cause", "reported from the TUI", false)],
            active: 0,
        }
    }

    /// The field with the cursor.
    pub fn field(&mut self) -> &mut Field {
        let i = self.active.min(self.fields.len().saturating_sub(1));
        &mut self.fields[i]
    }

    /// Moves to the next field (wraps).
    pub fn next_field(&mut self) {
        if !self.fields.is_empty() {
            self.active = (self.active + 1) % self.fields.len();
        }
    }

    /// Every field's problem, first one first; `Ok` when all are fine.
    pub fn check(&self) -> Result<(), String> {
        self.fields.iter().try_for_each(Field::check)
    }
}

/// The output the seed's handler reports.
pub const DEFAULT_OUTPUT: &str = r#"{"status": "success"}"#;

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn edits_at_the_cursor() {
        let mut f = Field::new("x", "ac", false);
        f.left();
        f.insert('b');
        assert_eq!(f.text, "abc");
        f.home();
        f.delete();
        assert_eq!(f.text, "bc");
        f.end();
        f.backspace();
        assert_eq!(f.text, "b");
        f.insert('é');
        f.left();
        f.insert('x');
        assert_eq!(f.text, "bxé");
    }

    #[test]
    fn json_is_checked_as_you_type() {
        let mut f = Field::new("Input", "{", true);
        assert!(f.check().unwrap_err().contains("invalid JSON"));
        f.insert('}');
        assert_eq!(f.check(), Ok(()));
        let arr = Field::new("Input", "[1]", true);
        assert!(arr.check().unwrap_err().contains("object"));
    }

    #[test]
    fn a_json_error_counts_its_column_in_characters() {
        // 3 chars of 2-3 bytes each, then the error at char 8.
        let f = Field::new("Input", r#"{"é中😀" x}"#, true);
        let e = f.check().unwrap_err();
        assert!(e.ends_with("at line 1 column 8"), "{e}");
        let ascii = Field::new("Input", r#"{"abc" x}"#, true);
        let e = ascii.check().unwrap_err();
        assert!(e.ends_with("at line 1 column 8"), "{e}");
    }

    #[test]
    fn readline_deletes() {
        let mut f = Field::new("x", "say hello  world", false);
        f.kill_word();
        assert_eq!((f.text.as_str(), f.cursor), ("say hello  ", 11));
        f.kill_word();
        assert_eq!((f.text.as_str(), f.cursor), ("say ", 4));
        f.text = "aé bc".into();
        f.cursor = 2;
        f.kill_to_end();
        assert_eq!(f.text, "aé");
        f.text = "aé bc".into();
        f.cursor = 3;
        f.kill_to_start();
        assert_eq!((f.text.as_str(), f.cursor), ("bc", 0));
        f.kill_word();
        assert_eq!(f.text, "bc");
    }

    #[test]
    fn failure_needs_an_error_name() {
        let mut e = Editor::report_failure(Target::Held { id: 1 }, "x");
        assert_eq!(e.check(), Ok(()));
        e.field().text.clear();
        assert!(e.check().is_err());
    }
}
