//! The overlays drawn over the layout: the help (every key, scrollable)
//! and the editor forms (a new execution's input, a report's output or
//! error), with their one-line text fields.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget, Wrap};

use crate::tui::action::HELP;
use crate::tui::app::App;

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2));
    let h = h.min(area.height.saturating_sub(2));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

pub(super) fn render_help(app: &mut App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    // Descriptions wrap under themselves, past the key column (16 wide).
    let inner_w = 90.min(area.width.saturating_sub(2)).saturating_sub(2) as usize;
    let desc_w = inner_w.saturating_sub(16).max(10);
    let mut lines = Vec::new();
    for (group, keys) in HELP {
        lines.push(Line::styled(*group, t.strong()));
        for k in *keys {
            for (i, part) in wrap_words(k.what, desc_w).into_iter().enumerate() {
                let key = if i == 0 { k.keys } else { "" };
                lines.push(Line::from(vec![
                    Span::styled(format!("  {key:<14}"), t.key()),
                    Span::raw(part),
                ]));
            }
        }
    }
    for part in wrap_words(
        "Step states: ○ not reached  ▶ running  ◷ waiting for callback  ✓ succeeded  ✗ failed  ⊘ timed out",
        inner_w.max(10),
    ) {
        lines.push(Line::styled(part, t.dim()));
    }
    let h = lines.len() as u16 + 2;
    let r = centered(area, 90, h);
    // Scrolling stops at the last line.
    let hidden = h.saturating_sub(r.height);
    app.help_scroll = app.help_scroll.min(hidden);
    let more = app.help_scroll < hidden;
    Clear.render(r, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((app.help_scroll, 0))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_type(BorderType::Rounded)
                .border_style(t.border_focused())
                .title(Line::styled(" Help: keys ", t.strong()))
                .title_bottom(Line::styled(
                    if more {
                        " Esc or ? closes · ↓ more "
                    } else {
                        " Esc or ? closes "
                    },
                    t.dim(),
                )),
        )
        .render(r, buf);
}

/// Splits text into lines of at most `width` characters at spaces (a word
/// longer than that gets a line of its own).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        let n = cur.chars().count();
        if n > 0 && n + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}

/// What a one-line field shows in `width` cells with the cursor at char
/// `cursor`: the visible text (scrolled horizontally so the cursor, even
/// at the end, stays in view), the cursor's cell offset in it and how many
/// cells the glyph under it takes (1 at the end). Counted in display
/// width, so wide glyphs (CJK, emoji) take two cells.
pub(crate) fn field_window(text: &str, cursor: usize, width: usize) -> (String, usize, usize) {
    use unicode_width::UnicodeWidthChar;
    let cw = |c: char| c.width().unwrap_or(0);
    let chars: Vec<char> = text.chars().collect();
    let cursor = cursor.min(chars.len());
    let cursor_w = chars.get(cursor).map_or(1, |c| cw(*c).max(1));
    // The first char shown, from `to` leftwards while `used` cells fit.
    let leftmost = |to: usize, mut used: usize| {
        let mut s = to;
        while s > 0 && used + cw(chars[s - 1]) <= width {
            used += cw(chars[s - 1]);
            s -= 1;
        }
        s
    };
    // As much of the text's end as fits (with the end's cursor cell),
    // unless the cursor is off that view: then the cursor at an edge.
    let end_view = leftmost(chars.len(), 1);
    let cursor_right = leftmost(cursor, cursor_w);
    let start = end_view.clamp(cursor_right, cursor);
    let cursor_x: usize = chars[start..cursor].iter().map(|c| cw(*c)).sum();
    let mut visible = String::new();
    let mut shown = 0;
    for c in &chars[start..] {
        let w = cw(*c);
        if shown + w > width {
            break;
        }
        shown += w;
        visible.push(*c);
    }
    (visible, cursor_x, cursor_w)
}

pub(super) fn render_editor(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let Some(ed) = &app.editor else { return };
    let h = ed.fields.len() as u16 * 2 + 4;
    let r = centered(area, 84, h);
    Clear.render(r, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border_focused())
        .title(Line::styled(format!(" {} ", ed.title), t.strong()))
        .title_bottom(Line::styled(
            " Enter submits · Esc cancels · Tab next field ",
            t.dim(),
        ));
    let inner = block.inner(r);
    block.render(r, buf);
    let mut y = inner.y;
    for (i, f) in ed.fields.iter().enumerate() {
        let active = i == ed.active;
        let label_style = if active { t.key() } else { t.dim() };
        Line::styled(f.label, label_style).render(Rect::new(inner.x, y, inner.width, 1), buf);
        y += 1;
        let row = Rect::new(inner.x, y, inner.width, 1);
        let (visible, cursor_x, cursor_w) = field_window(&f.text, f.cursor, inner.width as usize);
        Span::styled(visible, t.strong()).render(row, buf);
        if active {
            // The whole glyph under the cursor (two cells when wide).
            for dx in 0..cursor_w {
                let cx = inner.x.saturating_add((cursor_x + dx) as u16);
                if cx >= inner.right() {
                    break;
                }
                if let Some(cell) = buf.cell_mut((cx, y)) {
                    cell.set_style(Style::new().add_modifier(ratatui::style::Modifier::REVERSED));
                }
            }
        }
        y += 1;
    }
    let check = match ed.check() {
        Ok(()) if ed.fields.iter().any(|f| f.json) => Line::styled("✓ valid JSON object", t.ok()),
        Ok(()) => Line::styled("✓ ready", t.ok()),
        Err(e) => Line::styled(format!("✗ {e}"), t.error()),
    };
    check.render(Rect::new(inner.x, y + 1, inner.width, 1), buf);
}
