//! The overlays drawn over the layout: the help (every key, scrollable),
//! the flow picker, the stop confirmation and the editor forms (a new
//! execution's input, a report's output or error), with their one-line
//! text fields.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
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
        "Step (state) boxes: ○ not reached  ▶ running  ◷ waiting for callback  ✓ succeeded  ✗ failed  ⊘ timed out  ■ cancelled (its execution ended first); k/n: runs done of a foreach's (Map's) iterations or a parallel's branches; ↺ NAME: an edge back up to NAME",
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
    let hint = if ed.fields.len() > 1 {
        " Enter submits · Esc cancels · Tab next field "
    } else {
        " Enter submits · Esc cancels "
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border_focused())
        .title(Line::styled(format!(" {} ", ed.title), t.strong()))
        .title_bottom(Line::styled(hint, t.dim()));
    let inner = block.inner(r);
    block.render(r, buf);
    let mut y = inner.y;
    // The field with the cursor is marked `›` and bold, so it shows
    // without colour too; its text is indented past the marker's column.
    let text_x = inner.x.saturating_add(2);
    let text_w = inner.width.saturating_sub(2);
    for (i, f) in ed.fields.iter().enumerate() {
        let active = i == ed.active;
        let label = if active {
            Line::from(vec![
                Span::styled("› ", t.key()),
                Span::styled(f.label, t.key().add_modifier(Modifier::BOLD)),
            ])
        } else {
            Line::styled(format!("  {}", f.label), t.dim())
        };
        label.render(Rect::new(inner.x, y, inner.width, 1), buf);
        y += 1;
        let row = Rect::new(text_x, y, text_w, 1);
        let (visible, cursor_x, cursor_w) = field_window(&f.text, f.cursor, text_w as usize);
        Span::styled(visible, t.strong()).render(row, buf);
        if active {
            // The whole glyph under the cursor (two cells when wide).
            for dx in 0..cursor_w {
                let cx = text_x.saturating_add((cursor_x + dx) as u16);
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

/// `x`: the question before stopping an execution.
pub(super) fn render_confirm(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let Some(c) = &app.confirm else { return };
    let lines = vec![
        Line::from(vec![
            Span::raw("Stop execution "),
            Span::styled(c.name.clone(), t.strong()),
            Span::raw(format!(" of {}?", c.flow)),
        ]),
        Line::styled(
            "It cannot be undone: its steps under way are cancelled and it ends Stopped.",
            t.dim(),
        ),
        Line::raw(""),
        Line::from(vec![
            Span::styled("y", t.key()),
            Span::raw(" / "),
            Span::styled("Enter", t.key()),
            Span::raw(" stops it · "),
            Span::styled("n", t.key()),
            Span::raw(" / "),
            Span::styled("Esc", t.key()),
            Span::raw(" keeps it running"),
        ]),
    ];
    let p = Paragraph::new(lines).wrap(Wrap { trim: true });
    // As tall as the wrapped text (a child's name is long).
    let w = 64.min(area.width.saturating_sub(2));
    let h = u16::try_from(p.line_count(w.saturating_sub(2))).unwrap_or(u16::MAX);
    let r = centered(area, w, h.saturating_add(2));
    Clear.render(r, buf);
    p.block(
        Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(t.error())
            .title(Line::styled(" Stop? ", t.error())),
    )
    .render(r, buf);
}

/// `F`: the flows, filtered by what is typed, the picked one marked `›`
/// and highlighted, the one new executions start now marked `•`.
pub(super) fn render_picker(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let Some(p) = &app.picker else { return };
    let matches = app.picker_matches();
    let h = (matches.len() as u16).clamp(1, 12) + 4;
    let r = centered(area, 60, h);
    Clear.render(r, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border_focused())
        .title(Line::styled(" New executions start flow ", t.strong()))
        .title_bottom(Line::styled(
            " type filters · ↑↓ · Enter picks · Esc closes ",
            t.dim(),
        ));
    let inner = block.inner(r);
    block.render(r, buf);
    if inner.height == 0 {
        return;
    }
    let (visible, cursor_x, _) = field_window(
        &p.filter.text,
        p.filter.cursor,
        inner.width.saturating_sub(8) as usize,
    );
    Line::from(vec![
        Span::styled("Filter ", t.dim()),
        Span::styled(visible, t.strong()),
    ])
    .render(Rect::new(inner.x, inner.y, inner.width, 1), buf);
    let cx = inner.x.saturating_add(7).saturating_add(cursor_x as u16);
    if cx < inner.right()
        && let Some(cell) = buf.cell_mut((cx, inner.y))
    {
        cell.set_style(Style::new().add_modifier(Modifier::REVERSED));
    }
    let rows = inner.height.saturating_sub(2) as usize;
    if matches.is_empty() {
        Line::styled("no flow matches: Backspace", t.dim()).render(
            Rect::new(
                inner.x,
                inner.y + 2,
                inner.width,
                1.min(inner.height.saturating_sub(2)),
            ),
            buf,
        );
        return;
    }
    let row = matches.iter().position(|&i| i == p.sel).unwrap_or(0);
    let start = row.saturating_sub(rows.saturating_sub(1));
    for (k, &i) in matches.iter().enumerate().skip(start).take(rows) {
        let y = inner.y + 2 + (k - start) as u16;
        let picked = k == row;
        let line = Line::from(vec![
            Span::styled(if picked { "› " } else { "  " }, t.key()),
            Span::raw(app.flows[i].clone()),
            Span::styled(if i == app.flow_idx { "  • now" } else { "" }, t.dim()),
        ]);
        let rr = Rect::new(inner.x, y, inner.width, 1);
        line.render(rr, buf);
        if picked {
            buf.set_style(rr, t.selected());
        }
    }
}
