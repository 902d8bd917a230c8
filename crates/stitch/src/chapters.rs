//! Chapter marks: an ID3v2.4 tag with CTOC + CHAP (for MP3 players and ffprobe)
//! and a WebVTT chapters track (for the HTML5 `<track kind="chapters">`).

use id3::frame::{Chapter, Frame, TableOfContents};
use id3::{Tag, TagLike, Version};

use crate::error::Error;

/// One chapter: a leg's place in the joined file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChapterMark {
    /// Element id inside the tag (`chp0`, `chp1`, …).
    pub element_id: String,
    /// Title shown by players (the caller's leg label).
    pub title: String,
    /// Start in milliseconds from the beginning of the audio.
    pub start_ms: u64,
    /// End in milliseconds (exclusive).
    pub end_ms: u64,
}

/// Builds the bytes of an ID3v2.4 tag holding TIT2 (when `title` is given), one
/// CTOC listing all chapters in order, then one CHAP per chapter with a TIT2.
/// No padding and no timestamps, so the same input gives the same bytes.
pub fn id3_chapter_tag(title: Option<&str>, chapters: &[ChapterMark]) -> Result<Vec<u8>, Error> {
    let mut tag = Tag::new();
    if let Some(t) = title {
        tag.set_title(t);
    }
    tag.add_frame(TableOfContents {
        element_id: "toc".to_string(),
        top_level: true,
        ordered: true,
        elements: chapters.iter().map(|c| c.element_id.clone()).collect(),
        frames: Vec::new(),
    });
    for c in chapters {
        tag.add_frame(Chapter {
            element_id: c.element_id.clone(),
            start_time: u32::try_from(c.start_ms)
                .map_err(|_| Error::Limit("mp3: chapter start beyond u32 ms"))?,
            end_time: u32::try_from(c.end_ms)
                .map_err(|_| Error::Limit("mp3: chapter end beyond u32 ms"))?,
            start_offset: u32::MAX,
            end_offset: u32::MAX,
            frames: vec![Frame::text("TIT2", c.title.clone())],
        });
    }
    let mut out = Vec::new();
    tag.write_to(&mut out, Version::Id3v24)
        .map_err(|e| Error::Encode(format!("id3: {e}")))?;
    Ok(out)
}

fn vtt_time(ms: u64) -> String {
    let h = ms / 3_600_000;
    let m = ms / 60_000 % 60;
    let s = ms / 1000 % 60;
    let f = ms % 1000;
    format!("{h:02}:{m:02}:{s:02}.{f:03}")
}

/// Renders chapters as a WebVTT file, one cue per chapter.
/// Titles are put on one line and `-->` is defused so a title cannot break the cue.
pub fn webvtt(chapters: &[ChapterMark]) -> String {
    let mut out = String::from("WEBVTT\n");
    for (i, c) in chapters.iter().enumerate() {
        let title = c.title.replace(['\r', '\n'], " ").replace("-->", "->");
        out.push_str(&format!(
            "\n{}\n{} --> {}\n{}\n",
            i + 1,
            vtt_time(c.start_ms),
            vtt_time(c.end_ms),
            title
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webvtt_cues_have_hour_minute_second_millis_times() {
        let v = webvtt(&[ChapterMark {
            element_id: "chp0".into(),
            title: "Leg 1: a --> b".into(),
            start_ms: 0,
            end_ms: 3_723_004,
        }]);
        assert_eq!(
            v,
            "WEBVTT\n\n1\n00:00:00.000 --> 01:02:03.004\nLeg 1: a -> b\n"
        );
    }
}
