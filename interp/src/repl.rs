//! The interactive REPL: line editing and history through `rustyline`;
//! reads until the input forms a complete datum, evaluates it, prints the
//! result with `write`, and survives errors.

use marrow_interp::reader::{file_id, Reader};
use marrow_interp::{Failure, Interp};
use rustyline::error::ReadlineError;

pub fn repl(it: &mut Interp) -> i32 {
    let mut rl = match rustyline::DefaultEditor::new() {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("marrow: cannot start the line editor: {e}");
            return 1;
        }
    };
    let history = std::env::var("HOME").map(|h| format!("{h}/.marrow_history")).ok();
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    println!("Marrow Scheme. (exit) or Ctrl-D to quit.");
    let mut buf = String::new();
    let code = loop {
        let prompt = if buf.is_empty() { "marrow> " } else { "   ...> " };
        match rl.readline(prompt) {
            Ok(line) => {
                buf.push_str(&line);
                buf.push('\n');
                let chars: Vec<char> = buf.chars().collect();
                let mut r = Reader::new(&chars, file_id("<repl>"));
                let mut data = Vec::new();
                let mut incomplete = false;
                loop {
                    match r.read() {
                        Ok(Some(d)) => data.push(d),
                        Ok(None) => break,
                        Err(e) => {
                            if e.msg.contains("unterminated") || e.msg.contains("end of input") {
                                incomplete = true;
                            } else {
                                eprintln!("{}: {}", e.pos, e.msg);
                                data.clear();
                            }
                            break;
                        }
                    }
                }
                if incomplete {
                    continue;
                }
                let _ = rl.add_history_entry(buf.trim_end());
                buf.clear();
                for d in data {
                    match it.eval_datum(&d) {
                        Ok(v) => {
                            it.flush();
                            if !v.is_unspecified() {
                                println!("{}", it.write(&v));
                            }
                        }
                        Err(Failure::Exit(c)) => {
                            it.flush();
                            if let Some(h) = &history {
                                let _ = rl.save_history(h);
                            }
                            return c;
                        }
                        Err(f) => {
                            it.flush();
                            eprintln!("{}", it.describe(&f));
                        }
                    }
                }
            }
            Err(ReadlineError::Interrupted) => {
                buf.clear();
            }
            Err(ReadlineError::Eof) => break 0,
            Err(e) => {
                eprintln!("marrow: {e}");
                break 1;
            }
        }
    };
    if let Some(h) = &history {
        let _ = rl.save_history(h);
    }
    code
}
