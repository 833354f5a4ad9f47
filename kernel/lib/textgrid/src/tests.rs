//! Host tests: the interpreter on the sequences the shell sends, and a property test that a model screen
//! following every flush's instructions always shows exactly the grid and one cursor.

use super::*;
use proptest::prelude::*;

/// A screen that does what a flush says: cells, plus where cursor marks are.
struct Model {
    cells: Vec<Vec<Cell>>,
    cursor: Vec<Vec<bool>>,
}

impl Model {
    fn new(columns: usize, rows: usize) -> Self {
        // Garbage to start with: the first flush must draw everything.
        let junk = Cell { ch: u16::from(b'#'), attr: 0x42 };
        Model { cells: vec![vec![junk; columns]; rows], cursor: vec![vec![true; columns]; rows] }
    }
}

impl Surface for Model {
    fn move_rows(&mut self, from: usize, to: usize, count: usize) {
        for i in 0..count {
            self.cells[to + i] = self.cells[from + i].clone();
            self.cursor[to + i] = self.cursor[from + i].clone();
        }
    }

    fn draw_cells(&mut self, column: usize, row: usize, cells: &[Cell]) {
        for (i, cell) in cells.iter().enumerate() {
            self.cells[row][column + i] = *cell;
            self.cursor[row][column + i] = false;
        }
    }

    fn draw_cursor(&mut self, column: usize, row: usize, _attr: u8) {
        self.cursor[row][column] = true;
    }
}

fn text(grid: &Grid, row: usize) -> String {
    grid.row(row)
        .iter()
        .map(|c| char::from_u32(u32::from(c.ch)).unwrap_or('?'))
        .collect::<String>()
        .trim_end()
        .to_string()
}

fn grid(columns: usize, rows: usize) -> Box<Grid> {
    let mut g = Box::new(Grid::new());
    g.resize(columns, rows);
    g
}

#[test]
fn text_wraps_and_scrolls() {
    let mut g = grid(10, 3);
    g.put_str("0123456789ab\nline2\nline3");
    assert_eq!(text(&g, 0), "ab");
    assert_eq!(text(&g, 1), "line2");
    assert_eq!(text(&g, 2), "line3");
    assert_eq!(g.pending_scroll(), 1);
}

#[test]
fn the_shells_redraw_of_a_recalled_line() {
    let mut g = grid(40, 4);
    // What the shell's editor sends: CR, prompt, line, erase to the end, cursor back 12 columns.
    g.put_str("pagoda$ something long here");
    g.put_str("\rpagoda$ free\x1b[K");
    assert_eq!(text(&g, 0), "pagoda$ free");
    g.put_str("\x1b[12D");
    assert_eq!(g.cursor(), (0, 0), "a two-digit count moves back 12");
    g.put_str("\x1b[3C\x08");
    assert_eq!(g.cursor(), (2, 0));
}

#[test]
fn colours_position_and_clear() {
    let mut g = grid(20, 5);
    g.put_str("\x1b[1;31mR\x1b[0m\x1b[44mB\x1b[m");
    assert_eq!(g.row(0)[0].attr, attr(12, 0), "bold red");
    assert_eq!(g.row(0)[1].attr, attr(7, 1), "default on blue");
    assert_eq!(g.attr(), DEFAULT_ATTR);
    g.put_str("\x1b[3;5HX");
    assert_eq!(g.row(2)[4].ch, u16::from(b'X'));
    g.put_str("\x1b[2J");
    assert_eq!(g.cursor(), (0, 0));
    assert!((0..5).all(|r| text(&g, r).is_empty()));
}

#[test]
fn a_picture_above_keeps_the_text_below() {
    let mut g = grid(20, 10);
    for i in 0..10 {
        g.put_str(&format!("line {i}\n"));
    }
    g.set_top(4);
    assert!((0..4).all(|r| text(&g, r).is_empty()), "rows under the picture are blanked");
    assert_eq!(text(&g, 8), "line 9");
    assert!(g.cursor().1 >= 4);
    for i in 10..30 {
        g.put_str(&format!("line {i}\n"));
    }
    assert!((0..4).all(|r| text(&g, r).is_empty()), "scrolling stays below the picture");
    assert_eq!(text(&g, 8), "line 29");
}

#[test]
fn hostile_sequences_stay_inside_the_grid() {
    let mut g = grid(7, 3);
    g.put_str(
        "\x1b[99999;99999H\x1b[65535A\x1b[65535B\x1b[65535C\x1b[65535D\x1b[;;;;;;;;H\x1b[9999K\t\t\t\tx",
    );
    let (x, y) = g.cursor();
    assert!(x <= 7 && y < 3);
}

/// One step of output or control.
#[derive(Clone, Debug)]
enum Op {
    Text(String),
    Flush,
    SetTop(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::string::string_regex("([a-z ]{0,12}|\\n|\\r|\\x08|\\t|\\x1b\\[[0-9]{0,2}[ABCDKHm]|\\x1b\\[2J|\\x1b\\[1;3[0-7]m)")
            .expect("regex")
            .prop_map(Op::Text),
        3 => Just(Op::Flush),
        1 => (0usize..6).prop_map(Op::SetTop),
    ]
}

proptest! {
    #[test]
    fn every_flush_leaves_the_screen_equal_to_the_grid(
        columns in 1usize..24,
        rows in 1usize..10,
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let mut g = grid(columns, rows);
        let mut screen = Model::new(columns, rows);
        for op in ops {
            match op {
                Op::Text(t) => g.put_str(&t),
                Op::SetTop(top) => g.set_top(top),
                Op::Flush => {
                    g.flush(&mut screen);
                    for row in g.top()..rows {
                        prop_assert_eq!(&screen.cells[row][..], g.row(row), "row {}", row);
                    }
                    let marks: Vec<(usize, usize)> = (g.top()..rows)
                        .flat_map(|r| (0..columns).map(move |c| (c, r)))
                        .filter(|&(c, r)| screen.cursor[r][c])
                        .collect();
                    let (x, y) = g.cursor();
                    prop_assert_eq!(marks, vec![(x.min(columns - 1), y)]);
                    prop_assert!(!g.needs_flush());
                }
            }
            let (x, y) = g.cursor();
            prop_assert!(x <= columns && y >= g.top() && y < rows);
        }
    }
}
