//! The demo's test signal: moving colour bars with a running clock as planar
//! I420 pictures, and a 1 kHz beep at the start of every second as mono PCM
//! s16le. Pure functions of the frame index, so a test can regenerate any
//! frame and compare it with what came back over the network.

/// Settings of the generated picture and sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalConfig {
    /// Picture width in pixels (even, at least 16).
    pub width: u32,
    /// Picture height in pixels (even, at least 16).
    pub height: u32,
    /// Pictures per second (1 to 60).
    pub fps: u32,
    /// Audio samples per second (8000 to 48000).
    pub sample_rate: u32,
}

impl Default for SignalConfig {
    fn default() -> Self {
        SignalConfig {
            width: 160,
            height: 120,
            fps: 10,
            sample_rate: 16_000,
        }
    }
}

impl SignalConfig {
    /// Checks the ranges documented on the fields.
    pub fn validate(&self) -> Result<(), String> {
        if self.width < 16 || !self.width.is_multiple_of(2) || self.width > 1920 {
            return Err(format!("width {} must be even and 16..=1920", self.width));
        }
        if self.height < 16 || !self.height.is_multiple_of(2) || self.height > 1080 {
            return Err(format!("height {} must be even and 16..=1080", self.height));
        }
        if !(1..=60).contains(&self.fps) {
            return Err(format!("fps {} must be 1..=60", self.fps));
        }
        if !(8000..=48_000).contains(&self.sample_rate) {
            return Err(format!(
                "sample rate {} must be 8000..=48000",
                self.sample_rate
            ));
        }
        Ok(())
    }

    /// Bytes in one I420 picture: a full-size Y plane and two quarter-size chroma planes.
    pub fn frame_len(&self) -> usize {
        let y = self.width as usize * self.height as usize;
        y + y / 2
    }

    /// Presentation time of picture `index` in milliseconds.
    pub fn frame_time_ms(&self, index: u64) -> u64 {
        index * 1000 / u64::from(self.fps)
    }

    /// Audio samples that belong with picture `index` (the chunk from this
    /// picture's time up to the next one's), so audio never drifts.
    pub fn audio_range(&self, index: u64) -> (u64, u64) {
        let rate = u64::from(self.sample_rate);
        let fps = u64::from(self.fps);
        (index * rate / fps, (index + 1) * rate / fps)
    }
}

/// Eight 75% colour bars (white, yellow, cyan, green, magenta, red, blue, black) in Y'CbCr (BT.601).
const BARS: [(u8, u8, u8); 8] = [
    (180, 128, 128),
    (162, 44, 142),
    (131, 156, 44),
    (112, 72, 58),
    (84, 184, 198),
    (65, 100, 212),
    (35, 212, 114),
    (16, 128, 128),
];

/// 5x7 glyphs for `0`-`9`, `:` and `.`; each row is 5 bits, most significant bit on the left.
const GLYPHS: [[u8; 7]; 12] = [
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
    [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
    [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
];

/// The clock text shown on picture `index`: `MM:SS.t` (minutes wrap at 100).
pub fn clock_text(config: &SignalConfig, index: u64) -> String {
    let ms = config.frame_time_ms(index);
    let tenths = (ms / 100) % 10;
    let secs = (ms / 1000) % 60;
    let mins = (ms / 60_000) % 100;
    format!("{mins:02}:{secs:02}.{tenths}")
}

fn glyph(c: char) -> Option<&'static [u8; 7]> {
    match c {
        '0'..='9' => GLYPHS.get(c as usize - '0' as usize),
        ':' => GLYPHS.get(10),
        '.' => GLYPHS.get(11),
        _ => None,
    }
}

/// Draws picture `index` into `out` (resized to [`SignalConfig::frame_len`]):
/// colour bars that slide one bar width every 8 pictures' worth of pixels,
/// with the clock in white on a black box across the middle.
pub fn render_frame(config: &SignalConfig, index: u64, out: &mut Vec<u8>) {
    let w = config.width as usize;
    let h = config.height as usize;
    out.clear();
    out.resize(config.frame_len(), 0);
    let (y_plane, chroma) = out.split_at_mut(w * h);
    let (u_plane, v_plane) = chroma.split_at_mut(w * h / 4);
    let bar_w = w.div_ceil(8);
    let shift = (index as usize * 2) % w;
    let bar_at = |x: usize| BARS[((x + shift) % w) / bar_w % 8];
    for row in 0..h {
        for x in 0..w {
            y_plane[row * w + x] = bar_at(x).0;
        }
    }
    for row in 0..h / 2 {
        for x in 0..w / 2 {
            let (_, u, v) = bar_at(x * 2);
            u_plane[row * (w / 2) + x] = u;
            v_plane[row * (w / 2) + x] = v;
        }
    }
    // The clock: scale the 5x7 font so the text fills about 3/4 of the width.
    let text = clock_text(config, index);
    let cell = 6usize; // 5 pixels + 1 gap
    let scale = ((w * 3 / 4) / (text.len() * cell)).max(1);
    let text_w = text.len() * cell * scale;
    let text_h = 7 * scale;
    let x0 = (w.saturating_sub(text_w)) / 2;
    let y0 = (h.saturating_sub(text_h)) / 2;
    // Black box with a margin, luma only (chroma 128 = grey axis).
    let margin = scale * 2;
    let bx0 = x0.saturating_sub(margin);
    let by0 = y0.saturating_sub(margin);
    let bx1 = (x0 + text_w + margin).min(w);
    let by1 = (y0 + text_h + margin).min(h);
    for row in by0..by1 {
        for x in bx0..bx1 {
            y_plane[row * w + x] = 16;
        }
    }
    for row in by0 / 2..by1.div_ceil(2).min(h / 2) {
        for x in bx0 / 2..bx1.div_ceil(2).min(w / 2) {
            u_plane[row * (w / 2) + x] = 128;
            v_plane[row * (w / 2) + x] = 128;
        }
    }
    for (i, c) in text.chars().enumerate() {
        let Some(rows) = glyph(c) else { continue };
        for (gy, bits) in rows.iter().enumerate() {
            for gx in 0..5 {
                if bits & (0x10 >> gx) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let x = x0 + (i * cell + gx) * scale + dx;
                        let y = y0 + gy * scale + dy;
                        if x < w && y < h {
                            y_plane[y * w + x] = 235;
                        }
                    }
                }
            }
        }
    }
}

/// Writes the PCM s16le samples `[first, end)` into `out`: a 1 kHz sine at
/// about -10 dBFS during the first 100 ms of every second, silence otherwise.
pub fn render_audio(config: &SignalConfig, first: u64, end: u64, out: &mut Vec<u8>) {
    out.clear();
    let rate = u64::from(config.sample_rate);
    for n in first..end {
        let in_second = n % rate;
        let value = if in_second < rate / 10 {
            let phase = 2.0 * std::f64::consts::PI * 1000.0 * (in_second as f64) / (rate as f64);
            (phase.sin() * 10_000.0) as i16
        } else {
            0
        };
        out.extend_from_slice(&value.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_has_i420_size_and_changes_over_time() {
        let c = SignalConfig::default();
        let mut a = Vec::new();
        let mut b = Vec::new();
        render_frame(&c, 0, &mut a);
        render_frame(&c, 1, &mut b);
        assert_eq!(a.len(), 160 * 120 * 3 / 2);
        assert_ne!(a, b, "bars move and the clock runs");
        let mut a2 = Vec::new();
        render_frame(&c, 0, &mut a2);
        assert_eq!(a, a2, "rendering is deterministic");
    }

    #[test]
    fn clock_text_counts_tenths_seconds_minutes() {
        let c = SignalConfig::default();
        assert_eq!(clock_text(&c, 0), "00:00.0");
        assert_eq!(clock_text(&c, 15), "00:01.5");
        assert_eq!(clock_text(&c, 10 * 61), "01:01.0");
    }

    #[test]
    fn clock_digits_are_drawn_in_white() {
        let c = SignalConfig::default();
        let mut f = Vec::new();
        render_frame(&c, 0, &mut f);
        let luma = &f[..160 * 120];
        assert!(luma.contains(&235), "clock pixels present");
        assert!(luma.contains(&16), "clock box present");
    }

    #[test]
    fn beep_in_first_tenth_of_each_second_only() {
        let c = SignalConfig::default();
        let mut pcm = Vec::new();
        render_audio(&c, 0, 16_000, &mut pcm);
        assert_eq!(pcm.len(), 32_000);
        let samples: Vec<i16> = pcm
            .chunks_exact(2)
            .map(|s| i16::from_le_bytes([s[0], s[1]]))
            .collect();
        assert!(samples[..1600].iter().any(|s| s.abs() > 9000));
        assert!(samples[1600..].iter().all(|s| *s == 0));
        // 1 kHz at 16 kHz: period of 16 samples.
        assert_eq!(samples[4], 10_000);
        assert_eq!(samples[20], 10_000);
    }

    #[test]
    fn audio_ranges_tile_without_gaps() {
        let c = SignalConfig {
            fps: 15,
            sample_rate: 22_050,
            ..SignalConfig::default()
        };
        let mut next = 0;
        for i in 0..100 {
            let (a, b) = c.audio_range(i);
            assert_eq!(a, next);
            next = b;
        }
        assert_eq!(next, 22_050 * 100 / 15);
    }

    #[test]
    fn validate_rejects_odd_sizes() {
        let c = SignalConfig {
            width: 161,
            ..SignalConfig::default()
        };
        assert!(c.validate().is_err());
        assert!(SignalConfig::default().validate().is_ok());
    }
}
