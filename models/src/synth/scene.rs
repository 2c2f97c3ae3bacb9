//! What a synthetic image shows, how it is captioned, and which queries it answers.

use serde::Serialize;

/// A shape drawn in a scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// A disc.
    Circle,
    /// A square at any rotation.
    Square,
    /// An equilateral triangle, roughly upright.
    Triangle,
    /// A five-pointed star.
    Star,
    /// A plus-shaped cross, roughly upright.
    Cross,
    /// A heart, roughly upright.
    Heart,
}

impl Shape {
    /// Every shape.
    pub const ALL: [Shape; 6] = [
        Shape::Circle,
        Shape::Square,
        Shape::Triangle,
        Shape::Star,
        Shape::Cross,
        Shape::Heart,
    ];

    /// The caption word for more than one.
    pub fn plural(self) -> &'static str {
        match self {
            Shape::Circle => "circles",
            Shape::Square => "squares",
            Shape::Triangle => "triangles",
            Shape::Star => "stars",
            Shape::Cross => "crosses",
            Shape::Heart => "hearts",
        }
    }

    /// The caption word.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Circle => "circle",
            Shape::Square => "square",
            Shape::Triangle => "triangle",
            Shape::Star => "star",
            Shape::Cross => "cross",
            Shape::Heart => "heart",
        }
    }
}

/// A named colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    /// Red.
    Red,
    /// Orange.
    Orange,
    /// Yellow.
    Yellow,
    /// Green.
    Green,
    /// Blue.
    Blue,
    /// Purple.
    Purple,
    /// Black.
    Black,
    /// White.
    White,
}

impl Colour {
    /// Every colour.
    pub const ALL: [Colour; 8] = [
        Colour::Red,
        Colour::Orange,
        Colour::Yellow,
        Colour::Green,
        Colour::Blue,
        Colour::Purple,
        Colour::Black,
        Colour::White,
    ];

    /// The caption word.
    pub fn name(self) -> &'static str {
        match self {
            Colour::Red => "red",
            Colour::Orange => "orange",
            Colour::Yellow => "yellow",
            Colour::Green => "green",
            Colour::Blue => "blue",
            Colour::Purple => "purple",
            Colour::Black => "black",
            Colour::White => "white",
        }
    }

    /// The colour's central sRGB value (drawings vary it a little).
    pub fn rgb(self) -> [f32; 3] {
        match self {
            Colour::Red => [215.0, 35.0, 35.0],
            Colour::Orange => [245.0, 135.0, 20.0],
            Colour::Yellow => [245.0, 215.0, 35.0],
            Colour::Green => [40.0, 165.0, 60.0],
            Colour::Blue => [35.0, 85.0, 215.0],
            Colour::Purple => [135.0, 55.0, 185.0],
            Colour::Black => [22.0, 22.0, 22.0],
            Colour::White => [245.0, 245.0, 245.0],
        }
    }
}

/// How big the shapes of a group are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    /// Captioned "small".
    Small,
    /// In-between; not captioned.
    Medium,
    /// Captioned "large".
    Large,
}

impl Size {
    /// The caption word, if the size is captioned.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Size::Small => Some("small"),
            Size::Medium => None,
            Size::Large => Some("large"),
        }
    }
}

/// Where a single shape sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Position {
    /// Left half, vertically centred.
    Left,
    /// Right half, vertically centred.
    Right,
    /// Top half, horizontally centred.
    Top,
    /// Bottom half, horizontally centred.
    Bottom,
    /// The middle.
    Center,
}

impl Position {
    /// Every position.
    pub const ALL: [Position; 5] = [
        Position::Left,
        Position::Right,
        Position::Top,
        Position::Bottom,
        Position::Center,
    ];

    /// The caption phrase.
    pub fn phrase(self) -> &'static str {
        match self {
            Position::Left => "on the left",
            Position::Right => "on the right",
            Position::Top => "at the top",
            Position::Bottom => "at the bottom",
            Position::Center => "in the center",
        }
    }
}

/// What is behind the shapes or the sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "colour")]
pub enum Background {
    /// One named colour.
    Plain(Colour),
    /// Stripes in two pale tones.
    Striped,
    /// A checkerboard in two pale tones.
    Checkered,
    /// Polka dots on a pale tone.
    Dotted,
}

impl Background {
    /// The caption word ("blue", "striped").
    pub fn name(self) -> &'static str {
        match self {
            Background::Plain(c) => c.name(),
            Background::Striped => "striped",
            Background::Checkered => "checkered",
            Background::Dotted => "dotted",
        }
    }
}

/// Words rendered on signs and memes.
pub const WORDS: [&str; 20] = [
    "hello", "monday", "again", "yes", "nope", "wow", "money", "help", "stop", "party", "coffee",
    "pizza", "friday", "boss", "oops", "why", "sleep", "home", "cats", "dogs",
];

/// One or more identical shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Group {
    /// The shape.
    pub shape: Shape,
    /// Its colour.
    pub colour: Colour,
    /// Its size.
    pub size: Size,
    /// How many (1–4).
    pub count: u8,
    /// Where it is, for a lone shape.
    pub position: Option<Position>,
}

/// What an image shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Scene {
    /// One or two groups of shapes.
    Shapes {
        /// Behind the shapes.
        background: Background,
        /// One or two groups, of different shape or colour.
        groups: Vec<Group>,
    },
    /// A board with one word on it.
    Sign {
        /// The word.
        word: &'static str,
        /// Behind the board.
        background: Background,
    },
    /// A picture with a top and a bottom caption in outlined letters.
    Meme {
        /// The top line.
        top: &'static str,
        /// The bottom line.
        bottom: &'static str,
    },
}

/// One group a query asks for; unset fields match anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectQuery {
    /// The shape.
    pub shape: Shape,
    /// Its colour.
    pub colour: Colour,
    /// Exactly this many.
    pub count: Option<u8>,
    /// This size.
    pub size: Option<Size>,
    /// This position.
    pub position: Option<Position>,
}

impl ObjectQuery {
    /// "a red circle", in any number.
    pub fn any(shape: Shape, colour: Colour) -> Self {
        ObjectQuery {
            shape,
            colour,
            count: None,
            size: None,
            position: None,
        }
    }

    fn matches(&self, group: &Group) -> bool {
        self.shape == group.shape
            && self.colour == group.colour
            && self.count.is_none_or(|c| c == group.count)
            && self.size.is_none_or(|s| s == group.size)
            && self.position.is_none_or(|p| Some(p) == group.position)
    }

    fn text(&self) -> String {
        let mut words: Vec<&str> = Vec::with_capacity(5);
        let count = self.count.unwrap_or(1);
        if let Some(name) = self.size.and_then(Size::name) {
            words.push(name);
        }
        words.push(self.colour.name());
        let noun = if count == 1 {
            self.shape.name()
        } else {
            self.shape.plural()
        };
        let lead = match count {
            1 => article(words[0]),
            2 => "two",
            3 => "three",
            4 => "four",
            _ => "many",
        };
        let mut text = format!("{lead} {} {noun}", words.join(" "));
        if let Some(p) = self.position {
            text.push(' ');
            text.push_str(p.phrase());
        }
        text
    }
}

/// "a" or "an" before `word`.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// A text query whose relevance to any scene is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Shapes: every object must be found in a different group.
    Objects {
        /// One or two objects.
        objects: Vec<ObjectQuery>,
        /// And this background.
        background: Option<Background>,
    },
    /// A sign with this word.
    Sign {
        /// The word.
        word: &'static str,
    },
    /// A meme containing all these words.
    Meme {
        /// The words, top line first.
        words: Vec<&'static str>,
    },
}

impl Query {
    /// The query as a person would type it; also the caption of a scene's full description.
    pub fn text(&self) -> String {
        match self {
            Query::Objects {
                objects,
                background,
            } => {
                let mut text = objects
                    .iter()
                    .map(ObjectQuery::text)
                    .collect::<Vec<_>>()
                    .join(" and ");
                if let Some(b) = background {
                    text.push_str(&format!(
                        " on {} {} background",
                        article(b.name()),
                        b.name()
                    ));
                }
                text
            }
            Query::Sign { word } => format!("a sign that says {word}"),
            Query::Meme { words } => format!("a meme that says {}", words.join(" ")),
        }
    }

    /// Whether `scene` answers the query.
    pub fn matches(&self, scene: &Scene) -> bool {
        match (self, scene) {
            (
                Query::Objects {
                    objects,
                    background,
                },
                Scene::Shapes {
                    background: bg,
                    groups,
                },
            ) => {
                background.is_none_or(|b| b == *bg)
                    && match objects.as_slice() {
                        [one] => groups.iter().any(|g| one.matches(g)),
                        [a, b] => groups.iter().enumerate().any(|(i, gi)| {
                            a.matches(gi)
                                && groups
                                    .iter()
                                    .enumerate()
                                    .any(|(j, gj)| i != j && b.matches(gj))
                        }),
                        _ => false,
                    }
            }
            (Query::Sign { word }, Scene::Sign { word: w, .. }) => word == w,
            (Query::Meme { words }, Scene::Meme { top, bottom }) => {
                words.iter().all(|w| w == top || w == bottom)
            }
            (Query::Objects { .. } | Query::Sign { .. } | Query::Meme { .. }, _) => false,
        }
    }

    /// Queries about one attribute: every coloured shape ("a green triangle"), and every
    /// word on a sign or a meme.
    pub fn single_attribute() -> Vec<Query> {
        let mut queries = Vec::new();
        for colour in Colour::ALL {
            for shape in Shape::ALL {
                queries.push(Query::Objects {
                    objects: vec![ObjectQuery::any(shape, colour)],
                    background: None,
                });
            }
        }
        for word in WORDS {
            queries.push(Query::Sign { word });
            queries.push(Query::Meme { words: vec![word] });
        }
        queries
    }
}

impl Scene {
    /// The complete description of the scene, as a query it answers.
    pub fn description(&self) -> Query {
        match self {
            Scene::Shapes { background, groups } => Query::Objects {
                objects: groups
                    .iter()
                    .map(|g| ObjectQuery {
                        shape: g.shape,
                        colour: g.colour,
                        count: Some(g.count),
                        size: g.size.name().map(|_| g.size),
                        position: g.position,
                    })
                    .collect(),
                background: Some(*background),
            },
            Scene::Sign { word, .. } => Query::Sign { word },
            Scene::Meme { top, bottom } => Query::Meme {
                words: vec![top, bottom],
            },
        }
    }

    /// The caption: the text of [`Scene::description`].
    pub fn caption(&self) -> String {
        self.description().text()
    }

    /// True descriptions of the scene, longest first: the full one, then for training the
    /// shorter ones: without the background, each group alone with and without its count, each
    /// word of a meme.
    pub fn descriptions(&self) -> Vec<Query> {
        let full = self.description();
        let mut all = vec![full.clone()];
        let mut push = |q: Query| {
            if !all.contains(&q) {
                all.push(q);
            }
        };
        match full {
            Query::Objects { objects, .. } => {
                push(Query::Objects {
                    objects: objects.clone(),
                    background: None,
                });
                for o in objects {
                    push(Query::Objects {
                        objects: vec![ObjectQuery {
                            size: None,
                            position: None,
                            ..o
                        }],
                        background: None,
                    });
                    push(Query::Objects {
                        objects: vec![ObjectQuery::any(o.shape, o.colour)],
                        background: None,
                    });
                }
            }
            Query::Meme { words } => {
                for w in words {
                    push(Query::Meme { words: vec![w] });
                }
            }
            Query::Sign { .. } => {}
        }
        all
    }
}
