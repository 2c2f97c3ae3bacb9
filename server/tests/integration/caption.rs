//! `trove caption` with the built-in demo captioner on pictures the generator drew: every
//! picture gets a caption in the generator's words (`--json`) that names what was drawn, a file that is not a picture is
//! reported by name while the others are still described, and a wrong task is refused with the
//! choices.

use std::process::Output;

use crate::util::trove;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn trove_caption_describes_pictures_and_names_the_ones_it_cannot_read() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let pics = tmp.path().join("pics");
    let synth = trove(&data)
        .args(["synth"])
        .arg(&pics)
        .args([
            "--split", "test", "--count", "24", "--seed", "11", "--size", "256",
        ])
        .output()
        .expect("synth runs");
    assert!(
        synth.status.success(),
        "{}",
        String::from_utf8_lossy(&synth.stderr)
    );
    let files: Vec<_> = (0..24).map(|i| pics.join(format!("{i:06}.png"))).collect();

    let out = trove(&data)
        .arg("caption")
        .arg("--json")
        .args(&files)
        .output()
        .expect("caption runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let described: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(described.len(), files.len());
    // It reads the pictures: the colours of the shapes drawn are in their captions (98 % of
    // colour words on the held-out set at training, training.json), and a sign or a meme is
    // called one (99 %). (Shapes it names 41 % of the time: too few here to test.)
    let (mut colours, mut colours_said, mut kinds, mut kinds_said) = (0, 0, 0, 0);
    for (i, d) in described.iter().enumerate() {
        let text = d["text"].as_str().expect("text");
        let scene =
            trove_models::synth::generate(11, trove_models::synth::Split::Test, i as u64, 8).scene;
        match scene {
            trove_models::synth::Scene::Shapes { groups, .. } => {
                for g in groups {
                    colours += 1;
                    colours_said += usize::from(text.contains(g.colour.name()));
                }
            }
            trove_models::synth::Scene::Sign { .. } => {
                kinds += 1;
                kinds_said += usize::from(text.starts_with("a sign"));
            }
            trove_models::synth::Scene::Meme { .. } => {
                kinds += 1;
                kinds_said += usize::from(text.starts_with("a meme"));
            }
        }
    }
    assert!(colours >= 10, "{colours} groups drawn");
    assert!(
        colours_said * 4 >= colours * 3,
        "{colours_said} of {colours} colours said"
    );
    assert!(
        kinds_said * 4 >= kinds * 3,
        "{kinds_said} of {kinds} signs and memes said"
    );
    // Each is a sentence in the generator's own words, as the captioner was trained to write.
    for d in &described {
        assert_eq!(d["task"], "<CAPTION>");
        let text = d["text"].as_str().expect("text");
        assert!(!text.contains("</s>") && !text.contains("<s>"), "{text:?}");
        assert!(
            text.starts_with("a ")
                || text.starts_with("an ")
                || text.starts_with("two ")
                || text.starts_with("three ")
                || text.starts_with("four "),
            "{text:?}"
        );
        assert!(
            text.ends_with("background") || text.contains(" says "),
            "{text:?}"
        );
    }

    // A broken file is named; the good one is still described; the exit status says so.
    let broken = tmp.path().join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\nnot really").expect("write");
    let out = trove(&data)
        .arg("caption")
        .arg(&broken)
        .arg(&files[0])
        .output()
        .expect("caption runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.png") && err.contains("1 of 2"),
        "{err}"
    );
    assert!(stdout(&out).contains("000000.png: "), "{}", stdout(&out));

    let out = trove(&data)
        .args(["caption", "--task", "poem"])
        .arg(&files[0])
        .output()
        .expect("caption runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("detailed-caption"));
}
