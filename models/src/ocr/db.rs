//! From the detector's probability map to text boxes: Differentiable Binarization's
//! post-processing as RapidOCR 1.4.4 runs it (`DBPostProcess`, fast score mode, dilation on):
//!
//! 1. threshold the map (0.3) and dilate with a 2×2 square;
//! 2. each 8-connected region is a candidate (OpenCV's outer contours; the inner borders of
//!    rings that `RETR_LIST` also returns are not used: their boxes lie inside a region that
//!    is already a candidate); at most 1,000, in raster order;
//! 3. its minimum-area rectangle, dropped when its short side is under 3 px;
//! 4. scored by the mean probability inside it, dropped under 0.5;
//! 5. grown ("unclipped") by `area × 1.6 / perimeter` on every side, as Clipper's round offset
//!    does, and its rectangle taken again, dropped when the short side is under 5 px;
//! 6. scaled to the source picture and ordered top-left, top-right, bottom-right, bottom-left.

/// A quadrilateral in picture pixels: top-left, top-right, bottom-right, bottom-left.
pub type Quad = [[f32; 2]; 4];

/// Post-processing settings (RapidOCR's defaults).
#[derive(Debug, Clone, Copy)]
pub struct DbParams {
    /// A pixel is text above this probability.
    pub thresh: f32,
    /// A box is kept when its mean probability reaches this.
    pub box_thresh: f32,
    /// At most this many regions are considered.
    pub max_candidates: usize,
    /// How far a box grows: `area × ratio / perimeter`.
    pub unclip_ratio: f32,
    /// The shortest box side kept, before growing (after growing: this + 2).
    pub min_size: f32,
}

impl Default for DbParams {
    fn default() -> Self {
        DbParams {
            thresh: 0.3,
            box_thresh: 0.5,
            max_candidates: 1000,
            unclip_ratio: 1.6,
            min_size: 3.0,
        }
    }
}

/// A found box with its score (mean probability inside it).
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Corners in the source picture's pixels (integers, as RapidOCR rounds them).
    pub quad: Quad,
    /// Mean text probability inside the box before growing.
    pub score: f32,
}

/// Boxes in a `width × height` probability map, scaled to a `src_w × src_h` picture.
pub fn boxes(
    prob: &[f32],
    width: usize,
    height: usize,
    src_w: usize,
    src_h: usize,
    params: &DbParams,
) -> Vec<Found> {
    debug_assert_eq!(prob.len(), width * height);
    let bitmap = dilate(prob, width, height, params.thresh);
    let mut found = Vec::new();
    for region in regions(&bitmap, width, height)
        .into_iter()
        .take(params.max_candidates)
    {
        let Some(rect) = Rect::min_area(&region) else {
            continue;
        };
        if rect.short_side() < params.min_size {
            continue;
        }
        let corners = mini_box(&rect.corners());
        let score = mean_inside(prob, width, height, &corners);
        if score < params.box_thresh {
            continue;
        }
        let Some(grown) = Rect::min_area(&unclip(&corners, params.unclip_ratio)) else {
            continue;
        };
        if grown.short_side() < params.min_size + 2.0 {
            continue;
        }
        let scale = |v: f32, from: usize, to: usize| {
            (v / from as f32 * to as f32)
                .round_ties_even()
                .clamp(0.0, to as f32)
        };
        let quad = mini_box(&grown.corners())
            .map(|[x, y]| [scale(x, width, src_w), scale(y, height, src_h)]);
        if let Some(quad) = tidy(quad, src_w, src_h) {
            found.push(Found { quad, score });
        }
    }
    found
}

/// Reading order: top to bottom, then left to right among boxes whose tops are within 10 px
/// (RapidOCR's `sorted_boxes`).
pub fn reading_order(boxes: &mut [Found]) {
    boxes.sort_by(|a, b| {
        (a.quad[0][1], a.quad[0][0])
            .partial_cmp(&(b.quad[0][1], b.quad[0][0]))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    for i in 0..boxes.len().saturating_sub(1) {
        for j in (0..=i).rev() {
            let (a, b) = (&boxes[j].quad[0], &boxes[j + 1].quad[0]);
            if (b[1] - a[1]).abs() < 10.0 && b[0] < a[0] {
                boxes.swap(j, j + 1);
            } else {
                break;
            }
        }
    }
}

/// `prob > thresh`, dilated by a 2×2 square anchored at its bottom-right (OpenCV's anchor for
/// an even kernel): a pixel is set when it or its left, upper or upper-left neighbour is.
fn dilate(prob: &[f32], width: usize, height: usize, thresh: f32) -> Vec<bool> {
    let on = |x: usize, y: usize| prob[y * width + x] > thresh;
    let mut out = vec![false; width * height];
    for y in 0..height {
        for x in 0..width {
            out[y * width + x] = on(x, y)
                || (x > 0 && on(x - 1, y))
                || (y > 0 && (on(x, y - 1) || (x > 0 && on(x - 1, y - 1))));
        }
    }
    out
}

/// The 8-connected regions of set pixels, in raster order of their first pixel, each given by
/// its leftmost and rightmost pixel on every row it covers (enough for its convex hull).
fn regions(bitmap: &[bool], width: usize, height: usize) -> Vec<Vec<[f32; 2]>> {
    let mut label = vec![u32::MAX; bitmap.len()];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..bitmap.len() {
        if !bitmap[start] || label[start] != u32::MAX {
            continue;
        }
        let id = out.len() as u32;
        let mut rows: std::collections::BTreeMap<usize, (usize, usize)> = Default::default();
        label[start] = id;
        stack.push(start);
        while let Some(p) = stack.pop() {
            let (x, y) = (p % width, p / width);
            let span = rows.entry(y).or_insert((x, x));
            span.0 = span.0.min(x);
            span.1 = span.1.max(x);
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if nx < 0 || ny < 0 || nx >= width as i64 || ny >= height as i64 {
                        continue;
                    }
                    let q = ny as usize * width + nx as usize;
                    if bitmap[q] && label[q] == u32::MAX {
                        label[q] = id;
                        stack.push(q);
                    }
                }
            }
        }
        let mut points = Vec::with_capacity(rows.len() * 2);
        for (y, (x0, x1)) in rows {
            points.push([x0 as f32, y as f32]);
            if x1 != x0 {
                points.push([x1 as f32, y as f32]);
            }
        }
        out.push(points);
    }
    out
}

/// A rotated rectangle: centre, side lengths and the unit direction of its first side.
#[derive(Debug, Clone, Copy)]
struct Rect {
    centre: [f64; 2],
    size: [f64; 2],
    dir: [f64; 2],
}

impl Rect {
    /// The minimum-area rectangle around `points` (rotating calipers over the convex hull).
    fn min_area(points: &[[f32; 2]]) -> Option<Rect> {
        let hull = convex_hull(points);
        match hull.len() {
            0 => return None,
            1 => {
                return Some(Rect {
                    centre: hull[0],
                    size: [0.0, 0.0],
                    dir: [1.0, 0.0],
                })
            }
            _ => {}
        }
        let mut best: Option<(f64, Rect)> = None;
        for i in 0..hull.len() {
            let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
            let (ex, ey) = (b[0] - a[0], b[1] - a[1]);
            let len = (ex * ex + ey * ey).sqrt();
            if len == 0.0 {
                continue;
            }
            let u = [ex / len, ey / len];
            let v = [-u[1], u[0]];
            let (mut u0, mut u1, mut v0, mut v1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
            for p in &hull {
                let (pu, pv) = (p[0] * u[0] + p[1] * u[1], p[0] * v[0] + p[1] * v[1]);
                u0 = u0.min(pu);
                u1 = u1.max(pu);
                v0 = v0.min(pv);
                v1 = v1.max(pv);
            }
            let area = (u1 - u0) * (v1 - v0);
            if best.as_ref().is_none_or(|(a, _)| area < *a) {
                let (cu, cv) = ((u0 + u1) / 2.0, (v0 + v1) / 2.0);
                let centre = [cu * u[0] + cv * v[0], cu * u[1] + cv * v[1]];
                best = Some((
                    area,
                    Rect {
                        centre,
                        size: [u1 - u0, v1 - v0],
                        dir: u,
                    },
                ));
            }
        }
        best.map(|(_, r)| r)
    }

    fn short_side(&self) -> f32 {
        self.size[0].min(self.size[1]) as f32
    }

    fn corners(&self) -> [[f32; 2]; 4] {
        let (u, v) = (self.dir, [-self.dir[1], self.dir[0]]);
        let (hu, hv) = (self.size[0] / 2.0, self.size[1] / 2.0);
        [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)].map(|(su, sv)| {
            [
                (self.centre[0] + su * hu * u[0] + sv * hv * v[0]) as f32,
                (self.centre[1] + su * hu * u[1] + sv * hv * v[1]) as f32,
            ]
        })
    }
}

/// Andrew's monotone chain; counter-clockwise in a y-up frame, collinear points dropped.
fn convex_hull(points: &[[f32; 2]]) -> Vec<[f64; 2]> {
    let mut pts: Vec<[f64; 2]> = points
        .iter()
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect();
    pts.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    let mut hull: Vec<[f64; 2]> = Vec::with_capacity(pts.len() * 2);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &[f64; 2]>> = if pass == 0 {
            Box::new(pts.iter())
        } else {
            Box::new(pts.iter().rev())
        };
        for &p in iter {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

/// RapidOCR's `get_mini_boxes` ordering: the two leftmost corners give top-left and
/// bottom-left (by y), the two rightmost top-right and bottom-right.
fn mini_box(corners: &[[f32; 2]; 4]) -> Quad {
    let mut p = *corners;
    p.sort_by(|a, b| a[0].partial_cmp(&b[0]).unwrap_or(std::cmp::Ordering::Equal));
    let (tl, bl) = if p[1][1] > p[0][1] {
        (p[0], p[1])
    } else {
        (p[1], p[0])
    };
    let (tr, br) = if p[3][1] > p[2][1] {
        (p[2], p[3])
    } else {
        (p[3], p[2])
    };
    [tl, tr, br, bl]
}

/// The mean probability over the pixels inside the box (corners truncated to integers, as
/// OpenCV's `fillPoly` receives them), within the box's clipped bounding rectangle.
fn mean_inside(prob: &[f32], width: usize, height: usize, quad: &Quad) -> f32 {
    let clampi = |v: f32, hi: usize| (v as i64).clamp(0, hi as i64 - 1);
    let xs = quad.map(|p| p[0]);
    let ys = quad.map(|p| p[1]);
    let fold = |v: [f32; 4], f: fn(f32, f32) -> f32, init| v.into_iter().fold(init, f);
    let xmin = clampi(fold(xs, f32::min, f32::MAX).floor(), width);
    let xmax = clampi(fold(xs, f32::max, f32::MIN).ceil(), width);
    let ymin = clampi(fold(ys, f32::min, f32::MAX).floor(), height);
    let ymax = clampi(fold(ys, f32::max, f32::MIN).ceil(), height);
    let poly = quad.map(|p| [(p[0] - xmin as f32) as i64, (p[1] - ymin as f32) as i64]);
    let (mut sum, mut count) = (0.0f64, 0usize);
    for y in 0..=(ymax - ymin) {
        for x in 0..=(xmax - xmin) {
            if inside_or_on(&poly, x, y) {
                sum += f64::from(prob[(y + ymin) as usize * width + (x + xmin) as usize]);
                count += 1;
            }
        }
    }
    if count == 0 {
        0.0
    } else {
        (sum / count as f64) as f32
    }
}

/// Whether the integer point lies inside or on the convex quadrilateral.
fn inside_or_on(poly: &[[i64; 2]; 4], x: i64, y: i64) -> bool {
    let mut sign = 0i64;
    for i in 0..4 {
        let (a, b) = (poly[i], poly[(i + 1) % 4]);
        let c = (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0]);
        if c != 0 {
            if sign != 0 && c.signum() != sign {
                return false;
            }
            sign = c.signum();
        }
    }
    true
}

/// The box grown by `area × ratio / perimeter` with round corners (Clipper's `JT_ROUND`
/// offset of the integer-truncated box, the arcs sampled finely): its points.
fn unclip(quad: &Quad, ratio: f32) -> Vec<[f32; 2]> {
    let pts: Vec<[f64; 2]> = quad
        .iter()
        .map(|p| [f64::from(p[0].trunc()), f64::from(p[1].trunc())])
        .collect();
    let n = pts.len();
    let (mut area2, mut perimeter) = (0.0, 0.0);
    for i in 0..n {
        let (a, b) = (pts[i], pts[(i + 1) % n]);
        area2 += a[0] * b[1] - b[0] * a[1];
        perimeter += ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
    }
    if perimeter == 0.0 {
        return quad.to_vec();
    }
    let distance = area2.abs() / 2.0 * f64::from(ratio) / perimeter;
    // Every corner becomes an arc of radius `distance` around it; the convex hull of the arcs
    // is the round offset of a convex polygon.
    let steps = 32;
    let mut out = Vec::with_capacity(n * steps);
    for p in &pts {
        for k in 0..steps {
            let a = std::f64::consts::TAU * k as f64 / steps as f64;
            out.push([
                (p[0] + distance * a.cos()) as f32,
                (p[1] + distance * a.sin()) as f32,
            ]);
        }
    }
    out
}

/// RapidOCR's `filter_tag_det_res`: corners ordered clockwise from the top-left, clipped to
/// the picture, and boxes 3 px or less wide or high dropped.
fn tidy(quad: Quad, width: usize, height: usize) -> Option<Quad> {
    let mut p = quad;
    p.sort_by(|a, b| a[0].partial_cmp(&b[0]).unwrap_or(std::cmp::Ordering::Equal));
    let by_y = |a: [f32; 2], b: [f32; 2]| if b[1] < a[1] { (b, a) } else { (a, b) };
    let (tl, bl) = by_y(p[0], p[1]);
    let (tr, br) = by_y(p[2], p[3]);
    let clip = |[x, y]: [f32; 2]| {
        [
            x.clamp(0.0, width.saturating_sub(1) as f32).trunc(),
            y.clamp(0.0, height.saturating_sub(1) as f32).trunc(),
        ]
    };
    let q = [tl, tr, br, bl].map(clip);
    let dist = |a: [f32; 2], b: [f32; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
    if dist(q[0], q[1]) as i64 <= 3 || dist(q[0], q[3]) as i64 <= 3 {
        return None;
    }
    Some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(width: usize, height: usize, on: impl Fn(usize, usize) -> bool) -> Vec<f32> {
        (0..width * height)
            .map(|i| if on(i % width, i / width) { 0.9 } else { 0.05 })
            .collect()
    }

    #[test]
    fn one_bar_gives_one_grown_box_scaled_to_the_picture() {
        // A 40×6 bar at (10, 20) in a 64×48 map; the picture is twice as large.
        let prob = map(64, 48, |x, y| {
            (10..50).contains(&x) && (20..26).contains(&y)
        });
        let found = boxes(&prob, 64, 48, 128, 96, &DbParams::default());
        assert_eq!(found.len(), 1);
        let [tl, tr, br, bl] = found[0].quad;
        assert!(found[0].score > 0.7, "{found:?}");
        // Dilation adds a pixel right and below; growing adds (area·1.6/perimeter) ≈ 4.4 px.
        assert!(
            tl[0] < 20.0 && tl[1] < 40.0 && br[0] > 100.0 && br[1] > 52.0,
            "{found:?}"
        );
        assert_eq!((tl[1], tr[1]), (tl[1], tl[1]), "axis-aligned");
        assert_eq!((bl[0], tl[0]), (tl[0], tl[0]));
    }

    #[test]
    fn specks_and_faint_regions_are_not_text() {
        let prob = map(64, 48, |x, y| {
            (x == 5 && y == 5) || ((30..40).contains(&x) && (10..12).contains(&y))
        });
        assert!(boxes(&prob, 64, 48, 64, 48, &DbParams::default()).is_empty());
        let faint: Vec<f32> = map(64, 48, |x, y| {
            (10..50).contains(&x) && (20..26).contains(&y)
        })
        .into_iter()
        .map(|p| if p > 0.5 { 0.4 } else { p })
        .collect();
        assert!(boxes(&faint, 64, 48, 64, 48, &DbParams::default()).is_empty());
    }

    #[test]
    fn a_tilted_line_gets_a_tilted_box() {
        let prob = map(96, 96, |x, y| {
            let (u, v) = (
                x as f32 * 0.8 + y as f32 * 0.6,
                -(x as f32) * 0.6 + y as f32 * 0.8,
            );
            (30.0..80.0).contains(&u) && (10.0..18.0).contains(&v)
        });
        let found = boxes(&prob, 96, 96, 96, 96, &DbParams::default());
        assert_eq!(found.len(), 1, "{found:?}");
        let [tl, tr, ..] = found[0].quad;
        let slope = (tr[1] - tl[1]) / (tr[0] - tl[0]);
        assert!(
            (slope - (-0.75)).abs() < 0.15 || (slope - 0.75).abs() < 0.15,
            "slope {slope}"
        );
    }

    #[test]
    fn lines_read_top_to_bottom_then_left_to_right() {
        let quad = |x: f32, y: f32| Found {
            quad: [[x, y], [x + 10.0, y], [x + 10.0, y + 5.0], [x, y + 5.0]],
            score: 1.0,
        };
        let mut found = vec![
            quad(50.0, 42.0),
            quad(0.0, 0.0),
            quad(10.0, 40.0),
            quad(0.0, 45.0),
        ];
        reading_order(&mut found);
        let order: Vec<_> = found.iter().map(|f| (f.quad[0][0], f.quad[0][1])).collect();
        assert_eq!(order, [(0.0, 0.0), (0.0, 45.0), (10.0, 40.0), (50.0, 42.0)]);
    }
}
