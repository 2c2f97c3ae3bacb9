//! Drawing a scene: a background fill and a list of items, rasterised with analytic
//! anti-aliasing (signed distances for shapes, supersampled font cells for words).

use image::RgbImage;

use super::font::{Bitmap, GLYPH_HEIGHT};
use super::Rng;

/// A background fill. Coordinates are fractions of the image side.
#[derive(Debug, Clone)]
pub(crate) enum Fill {
    /// One colour, lighter at the top by `gradient`.
    Plain { rgb: [f32; 3], gradient: f32 },
    /// Stripes at `angle` radians, `period` wide.
    Stripes {
        a: [f32; 3],
        b: [f32; 3],
        angle: f32,
        period: f32,
    },
    /// Squares `period` wide.
    Checks {
        a: [f32; 3],
        b: [f32; 3],
        period: f32,
    },
    /// Dots of `radius` on a square grid `period` apart.
    Dots {
        a: [f32; 3],
        b: [f32; 3],
        period: f32,
        radius: f32,
    },
    /// A photo-like stand-in: a vertical two-colour gradient with soft blobs.
    Photo {
        top: [f32; 3],
        bottom: [f32; 3],
        blobs: Vec<Blob>,
    },
}

/// A soft disc in a [`Fill::Photo`].
#[derive(Debug, Clone)]
pub(crate) struct Blob {
    pub x: f32,
    pub y: f32,
    pub r: f32,
    pub rgb: [f32; 3],
}

/// Something drawn over the background, in order.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// A filled shape of circumradius `r`, rotated by `angle` radians.
    Shape {
        shape: super::Shape,
        rgb: [f32; 3],
        x: f32,
        y: f32,
        r: f32,
        angle: f32,
    },
    /// A rectangle with a border.
    Board {
        x0: f32,
        y0: f32,
        x1: f32,
        y1: f32,
        rgb: [f32; 3],
        border: [f32; 3],
        border_width: f32,
    },
    /// One line of text, centred on `x`, `height` tall from `top`, optionally outlined.
    Text {
        text: &'static str,
        x: f32,
        top: f32,
        height: f32,
        rgb: [f32; 3],
        outline: Option<[f32; 3]>,
    },
}

/// A complete drawing.
#[derive(Debug, Clone)]
pub(crate) struct Drawing {
    pub fill: Fill,
    pub items: Vec<Item>,
    /// Per-pixel noise amplitude (0–255 scale).
    pub noise: f32,
    pub noise_seed: u64,
}

impl Drawing {
    /// Rasterises at `size`×`size` pixels.
    pub fn render(&self, size: u32) -> RgbImage {
        let texts: Vec<Option<TextLayout>> = self
            .items
            .iter()
            .map(|item| match item {
                Item::Text {
                    text,
                    x,
                    top,
                    height,
                    ..
                } => Some(TextLayout::new(text, *x, *top, *height)),
                Item::Shape { .. } | Item::Board { .. } => None,
            })
            .collect();
        let s = size as f32;
        let px = 1.0 / s;
        let mut img = RgbImage::new(size, size);
        for (xi, yi, pixel) in img.enumerate_pixels_mut() {
            let x = (xi as f32 + 0.5) * px;
            let y = (yi as f32 + 0.5) * px;
            let mut rgb = self.fill.at(x, y, px);
            for (item, layout) in self.items.iter().zip(&texts) {
                match (item, layout) {
                    (
                        Item::Shape {
                            shape,
                            rgb: c,
                            x: cx,
                            y: cy,
                            r,
                            angle,
                        },
                        _,
                    ) => {
                        let d = shape_distance(*shape, x - cx, y - cy, *r, *angle);
                        blend(&mut rgb, *c, coverage(d, px));
                    }
                    (
                        Item::Board {
                            x0,
                            y0,
                            x1,
                            y1,
                            rgb: c,
                            border,
                            border_width,
                        },
                        _,
                    ) => {
                        let (hx, hy) = ((x1 - x0) / 2.0, (y1 - y0) / 2.0);
                        let d = box_distance(x - (x0 + hx), y - (y0 + hy), hx, hy);
                        blend(&mut rgb, *border, coverage(d, px));
                        blend(&mut rgb, *c, coverage(d + border_width, px));
                    }
                    (
                        Item::Text {
                            rgb: c, outline, ..
                        },
                        Some(layout),
                    ) => {
                        if let Some(o) = outline {
                            blend(&mut rgb, *o, layout.coverage(x, y, px, 0.9));
                        }
                        blend(&mut rgb, *c, layout.coverage(x, y, px, 0.0));
                    }
                    (Item::Text { .. }, None) => {}
                }
            }
            let n = self.noise * (hash_unit(self.noise_seed, xi, yi) * 2.0 - 1.0);
            *pixel = image::Rgb(rgb.map(|v| (v + n).round().clamp(0.0, 255.0) as u8));
        }
        img
    }
}

impl Fill {
    fn at(&self, x: f32, y: f32, px: f32) -> [f32; 3] {
        match self {
            Fill::Plain { rgb, gradient } => rgb.map(|v| v + gradient * (0.5 - y)),
            Fill::Stripes {
                a,
                b,
                angle,
                period,
            } => {
                let t = (x * angle.cos() + y * angle.sin()) / period;
                // Distance to the nearest stripe edge, signed: inside `b` half negative.
                let f = t - t.floor();
                let d = (f - 0.5).abs().min(f.min(1.0 - f)) * period;
                let inside_b = f >= 0.5;
                mix(a, b, inside_b, d, px)
            }
            Fill::Checks { a, b, period } => {
                let (fx, fy) = (x / period, y / period);
                let parity = (fx.floor() as i64 + fy.floor() as i64).rem_euclid(2) == 1;
                let ex = (fx - fx.round()).abs() * period;
                let ey = (fy - fy.round()).abs() * period;
                mix(a, b, parity, ex.min(ey), px)
            }
            Fill::Dots {
                a,
                b,
                period,
                radius,
            } => {
                let gx = (x / period).round() * period;
                let gy = (y / period).round() * period;
                let d = ((x - gx).powi(2) + (y - gy).powi(2)).sqrt() - radius;
                let mut rgb = *a;
                blend(&mut rgb, *b, coverage(d, px));
                rgb
            }
            Fill::Photo { top, bottom, blobs } => {
                let mut rgb = [0.0; 3];
                for c in 0..3 {
                    rgb[c] = top[c] + (bottom[c] - top[c]) * y;
                }
                for blob in blobs {
                    let d2 = ((x - blob.x).powi(2) + (y - blob.y).powi(2)) / blob.r.powi(2);
                    blend(&mut rgb, blob.rgb, 0.8 * (-d2 * 2.0).exp());
                }
                rgb
            }
        }
    }
}

/// `b` where `in_b`, else `a`, softened over one pixel at an edge `edge` away.
fn mix(a: &[f32; 3], b: &[f32; 3], in_b: bool, edge: f32, px: f32) -> [f32; 3] {
    let w = (0.5 + edge / px).clamp(0.5, 1.0);
    let w_b = if in_b { w } else { 1.0 - w };
    [0, 1, 2].map(|c| a[c] * (1.0 - w_b) + b[c] * w_b)
}

fn blend(rgb: &mut [f32; 3], over: [f32; 3], alpha: f32) {
    if alpha > 0.0 {
        for c in 0..3 {
            rgb[c] += (over[c] - rgb[c]) * alpha;
        }
    }
}

/// Pixel coverage from a signed distance (negative inside).
fn coverage(d: f32, px: f32) -> f32 {
    (0.5 - d / px).clamp(0.0, 1.0)
}

fn length(x: f32, y: f32) -> f32 {
    (x * x + y * y).sqrt()
}

fn box_distance(x: f32, y: f32, hx: f32, hy: f32) -> f32 {
    let (dx, dy) = (x.abs() - hx, y.abs() - hy);
    length(dx.max(0.0), dy.max(0.0)) + dx.max(dy).min(0.0)
}

/// Signed distance to a shape of circumradius `r` centred at the origin (image axes: y down).
fn shape_distance(shape: super::Shape, x: f32, y: f32, r: f32, angle: f32) -> f32 {
    let (s, c) = angle.sin_cos();
    // Rotate into the shape's frame and flip to y-up, as the formulas below expect.
    let (px, py) = (c * x + s * y, -(-s * x + c * y));
    match shape {
        super::Shape::Circle => length(px, py) - r,
        super::Shape::Square => box_distance(px, py, r * 0.78, r * 0.78),
        super::Shape::Triangle => triangle(px, py + r * 0.12, r * 0.95),
        super::Shape::Star => star5(px, py, r * 1.08, 0.45),
        super::Shape::Cross => {
            box_distance(px, py, r * 0.9, r * 0.3).min(box_distance(px, py, r * 0.3, r * 0.9))
        }
        super::Shape::Heart => {
            let k = r * 1.35;
            heart(px / k, py / k + 0.55) * k
        }
    }
}

// The signed-distance formulas below are Inigo Quilez's (iquilezles.org, MIT), in 2-D y-up.

fn triangle(x: f32, y: f32, circumradius: f32) -> f32 {
    let k = 3f32.sqrt();
    let r = circumradius * k / 2.0;
    let (mut px, mut py) = (x.abs() - r, y + r / k);
    if px + k * py > 0.0 {
        (px, py) = ((px - k * py) / 2.0, (-k * px - py) / 2.0);
    }
    px -= px.clamp(-2.0 * r, 0.0);
    -length(px, py) * py.signum()
}

fn star5(x: f32, y: f32, r: f32, rf: f32) -> f32 {
    let (k1x, k1y) = (0.809_017_f32, -0.587_785_24_f32);
    let (k2x, k2y) = (-k1x, k1y);
    let (mut px, mut py) = (x.abs(), y);
    let d = 2.0 * (k1x * px + k1y * py).max(0.0);
    px -= d * k1x;
    py -= d * k1y;
    let d = 2.0 * (k2x * px + k2y * py).max(0.0);
    px -= d * k2x;
    py -= d * k2y;
    px = px.abs();
    py -= r;
    let (bax, bay) = (rf * -k1y, rf * k1x - 1.0);
    let h = ((px * bax + py * bay) / (bax * bax + bay * bay)).clamp(0.0, r);
    length(px - bax * h, py - bay * h) * (py * bax - px * bay).signum()
}

fn heart(x: f32, y: f32) -> f32 {
    let px = x.abs();
    if y + px > 1.0 {
        return length(px - 0.25, y - 0.75) - 2f32.sqrt() / 4.0;
    }
    let a = px * px + (y - 1.0) * (y - 1.0);
    let m = 0.5 * (px + y).max(0.0);
    let b = (px - m) * (px - m) + (y - m) * (y - m);
    a.min(b).sqrt() * (px - y).signum()
}

/// A line of text placed on the image.
struct TextLayout {
    bitmap: Bitmap,
    left: f32,
    top: f32,
    cell: f32,
}

impl TextLayout {
    fn new(text: &str, x: f32, top: f32, height: f32) -> Self {
        let bitmap = Bitmap::line(&text.to_uppercase());
        let cell = height / GLYPH_HEIGHT as f32;
        TextLayout {
            left: x - bitmap.width as f32 * cell / 2.0,
            bitmap,
            top,
            cell,
        }
    }

    /// Fraction of the pixel centred at `(x, y)` covered by ink grown by `grow` cells.
    fn coverage(&self, x: f32, y: f32, px: f32, grow: f32) -> f32 {
        let margin = (grow + 1.0) * self.cell + px;
        let right = self.left + self.bitmap.width as f32 * self.cell;
        let bottom = self.top + self.bitmap.height as f32 * self.cell;
        if x < self.left - margin
            || x > right + margin
            || y < self.top - margin
            || y > bottom + margin
        {
            return 0.0;
        }
        const N: usize = 3;
        let mut hits = 0;
        for sy in 0..N {
            for sx in 0..N {
                let qx = x + ((sx as f32 + 0.5) / N as f32 - 0.5) * px;
                let qy = y + ((sy as f32 + 0.5) / N as f32 - 0.5) * px;
                if self.inked(qx, qy, grow) {
                    hits += 1;
                }
            }
        }
        hits as f32 / (N * N) as f32
    }

    fn inked(&self, x: f32, y: f32, grow: f32) -> bool {
        let (u, v) = ((x - self.left) / self.cell, (y - self.top) / self.cell);
        let (col, row) = (u.floor() as isize, v.floor() as isize);
        if grow <= 0.0 {
            return self.bitmap.get(col, row);
        }
        let reach = grow.ceil() as isize;
        for dr in -reach..=reach {
            for dc in -reach..=reach {
                let (c, r) = (col + dc, row + dr);
                if self.bitmap.get(c, r) {
                    let dx = (c as f32 - u).max(u - (c as f32 + 1.0)).max(0.0);
                    let dy = (r as f32 - v).max(v - (r as f32 + 1.0)).max(0.0);
                    if dx * dx + dy * dy <= grow * grow {
                        return true;
                    }
                }
            }
        }
        false
    }
}

/// A deterministic value in [0, 1) for a pixel.
fn hash_unit(seed: u64, x: u32, y: u32) -> f32 {
    let mut rng = Rng::new(seed ^ (u64::from(x) << 32 | u64::from(y)));
    rng.unit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::Shape;

    #[test]
    fn shapes_stay_near_their_radius_and_cover_their_centre() {
        for shape in Shape::ALL {
            assert!(
                shape_distance(shape, 0.0, 0.0, 1.0, 0.3) < 0.0,
                "{shape:?} centre"
            );
            for i in 0..64 {
                let a = i as f32 / 64.0 * std::f32::consts::TAU;
                let d = shape_distance(shape, 1.2 * a.cos(), 1.2 * a.sin(), 1.0, 0.0);
                assert!(d > 0.0, "{shape:?} reaches past 1.2 radii at {a}");
            }
        }
    }

    #[test]
    fn text_cells_are_inked_where_the_font_says() {
        let layout = TextLayout::new("I", 0.5, 0.1, 0.7);
        // The I's vertical bar is column 2; its left edge at 0.5 - 2.5 cells.
        let cell = 0.1;
        assert!(layout.inked(0.5, 0.45, 0.0));
        assert!(!layout.inked(0.5 - cell, 0.45, 0.0));
        assert!(layout.inked(0.5 - cell, 0.45, 0.9), "the outline grows");
        assert!(
            !layout.inked(0.5 - 2.0 * cell, 0.45, 0.9),
            "by less than a cell"
        );
    }
}
