//! Script Command Object (ASF 3.6).
//!
//! | Type | Field |
//! |---|---|
//! | GUID | Reserved (`4B1ACBE3-100B-11D0-A39B-00A0C90348F6`) |
//! | WORD | Commands Count |
//! | WORD | Command Types Count |
//! | types | WORD Command Type Name Length (WCHARs); name |
//! | commands | DWORD Presentation Time (ms); WORD Type Index; WORD Command Name Length (WCHARs); name |

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe, len_as};
use crate::strings::WString;
use crate::{Guid, Limits, Result, guids};

/// One script command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScriptCommandEntry {
    /// Presentation time, ms.
    pub presentation_time: u32,
    /// Index into the command types.
    pub type_index: u16,
    /// Command name / argument.
    pub name: WString,
}

/// Script Command: timed commands (URL flips, captions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptCommand {
    /// Reserved GUID as read.
    pub reserved: Guid,
    /// Command type names (e.g. `URL`, `FILENAME`).
    pub command_types: Vec<WString>,
    /// The commands.
    pub commands: Vec<ScriptCommandEntry>,
    /// Bytes after the last command.
    pub trailing: Vec<u8>,
}

impl Default for ScriptCommand {
    fn default() -> Self {
        ScriptCommand {
            reserved: guids::SCRIPT_COMMAND_RESERVED,
            command_types: Vec::new(),
            commands: Vec::new(),
            trailing: Vec::new(),
        }
    }
}

fn write_wchars(out: &mut Vec<u8>, s: &WString) {
    out.put_u16_le(len_as(s.len_wchars()));
    out.put_raw(s.as_bytes());
    if s.len_bytes() % 2 == 1 {
        out.put_u8_le(0);
    }
}

impl AsfObject for ScriptCommand {
    const GUID: Guid = guids::SCRIPT_COMMAND;
    const NAME: &'static str = "Script Command Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let reserved = r.guid()?;
        let n_commands = r.u16()?;
        let n_types = r.u16()?;
        let n_types = r.check_count(n_types.into(), 2, limits)?;
        let mut command_types = Vec::with_capacity(n_types);
        for _ in 0..n_types {
            let len = r.u16()?;
            command_types.push(WString(r.bytes(usize::from(len) * 2)?.to_vec()));
        }
        let n_commands = r.check_count(n_commands.into(), 8, limits)?;
        let mut commands = Vec::with_capacity(n_commands);
        for _ in 0..n_commands {
            let presentation_time = r.u32()?;
            let type_index = r.u16()?;
            let len = r.u16()?;
            commands.push(ScriptCommandEntry {
                presentation_time,
                type_index,
                name: WString(r.bytes(usize::from(len) * 2)?.to_vec()),
            });
        }
        Ok(ScriptCommand {
            reserved,
            command_types,
            commands,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        20 + self
            .command_types
            .iter()
            .map(|t| 2 + t.len_wchars() as u64 * 2)
            .sum::<u64>()
            + self
                .commands
                .iter()
                .map(|c| 8 + c.name.len_wchars() as u64 * 2)
                .sum::<u64>()
            + self.trailing.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_guid(&self.reserved);
        out.put_u16_le(len_as(self.commands.len()));
        out.put_u16_le(len_as(self.command_types.len()));
        for t in &self.command_types {
            write_wchars(out, t);
        }
        for c in &self.commands {
            out.put_u32_le(c.presentation_time);
            out.put_u16_le(c.type_index);
            write_wchars(out, &c.name);
        }
        out.put_raw(&self.trailing);
    }
}
