//! Cutting a text box out of a picture as a straight line: a perspective warp of the box's
//! quadrilateral onto an upright rectangle (OpenCV's `getPerspectiveTransform` +
//! `warpPerspective` with bicubic sampling and replicated borders, as RapidOCR's
//! `get_rotate_crop_image` does), turned upright when it is much taller than wide.

use super::db::Quad;

/// An interleaved RGB8 picture.
#[derive(Debug, Clone)]
pub struct Rgb {
    /// Pixels, row by row.
    pub data: Vec<u8>,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

impl Rgb {
    fn at(&self, x: i64, y: i64) -> [f32; 3] {
        let x = x.clamp(0, self.width as i64 - 1) as usize;
        let y = y.clamp(0, self.height as i64 - 1) as usize;
        let i = (y * self.width + x) * 3;
        [
            f32::from(self.data[i]),
            f32::from(self.data[i + 1]),
            f32::from(self.data[i + 2]),
        ]
    }

    /// Rotated 90° counter-clockwise (`np.rot90`).
    fn rot90(&self) -> Rgb {
        let (w, h) = (self.height, self.width);
        let mut data = vec![0; w * h * 3];
        for y in 0..h {
            for x in 0..w {
                // out(x, y) = in(w_in - 1 - y, x)
                let src = (x * self.width + (self.width - 1 - y)) * 3;
                data[(y * w + x) * 3..(y * w + x) * 3 + 3]
                    .copy_from_slice(&self.data[src..src + 3]);
            }
        }
        Rgb {
            data,
            width: w,
            height: h,
        }
    }
}

/// The box's content as an upright line: `None` when the box is empty.
pub fn line(image: &Rgb, quad: &Quad) -> Option<Rgb> {
    let dist = |a: [f32; 2], b: [f32; 2]| {
        (f64::from(a[0] - b[0]).powi(2) + f64::from(a[1] - b[1]).powi(2)).sqrt()
    };
    let width = dist(quad[0], quad[1]).max(dist(quad[2], quad[3])) as usize;
    let height = dist(quad[0], quad[3]).max(dist(quad[1], quad[2])) as usize;
    if width == 0 || height == 0 || image.width == 0 || image.height == 0 {
        return None;
    }
    let (w, h) = (width as f64, height as f64);
    let to_src = homography(
        [[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]],
        quad.map(|p| [f64::from(p[0]), f64::from(p[1])]),
    )?;
    let mut data = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let (sx, sy) = apply(&to_src, x as f64, y as f64);
            data.extend(bicubic(image, sx, sy));
        }
    }
    let out = Rgb {
        data,
        width,
        height,
    };
    Some(if height as f64 / width as f64 >= 1.5 {
        out.rot90()
    } else {
        out
    })
}

/// The 3×3 projective map taking `from[i]` to `to[i]` (h33 = 1), or `None` when degenerate.
fn homography(from: [[f64; 2]; 4], to: [[f64; 2]; 4]) -> Option<[f64; 9]> {
    // Unknowns h11 h12 h13 h21 h22 h23 h31 h32:
    //   u = (h11 x + h12 y + h13) / (h31 x + h32 y + 1), likewise v.
    let mut a = [[0.0f64; 9]; 8];
    for i in 0..4 {
        let ([x, y], [u, v]) = (from[i], to[i]);
        a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    for col in 0..8 {
        let pivot = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        for row in 0..8 {
            if row != col {
                let (pivot_row, f) = (a[col], a[row][col] / a[col][col]);
                for (v, p) in a[row].iter_mut().zip(pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    let h: Vec<f64> = (0..8).map(|i| a[i][8] / a[i][i]).collect();
    Some([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0])
}

fn apply(h: &[f64; 9], x: f64, y: f64) -> (f64, f64) {
    let w = h[6] * x + h[7] * y + h[8];
    let w = if w.abs() < 1e-12 { 1e-12 } else { w };
    (
        (h[0] * x + h[1] * y + h[2]) / w,
        (h[3] * x + h[4] * y + h[5]) / w,
    )
}

/// OpenCV's bicubic kernel (a = −0.75).
fn cubic(x: f64) -> f64 {
    const A: f64 = -0.75;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A
    } else {
        0.0
    }
}

fn bicubic(image: &Rgb, x: f64, y: f64) -> [u8; 3] {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let wx = [cubic(1.0 + fx), cubic(fx), cubic(1.0 - fx), cubic(2.0 - fx)];
    let wy = [cubic(1.0 + fy), cubic(fy), cubic(1.0 - fy), cubic(2.0 - fy)];
    let mut acc = [0.0f64; 3];
    for (j, wyj) in wy.iter().enumerate() {
        for (i, wxi) in wx.iter().enumerate() {
            let p = image.at(x0 as i64 - 1 + i as i64, y0 as i64 - 1 + j as i64);
            let w = wxi * wyj;
            for c in 0..3 {
                acc[c] += f64::from(p[c]) * w;
            }
        }
    }
    acc.map(|v| v.round().clamp(0.0, 255.0) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: usize, height: usize) -> Rgb {
        let mut data = Vec::new();
        for y in 0..height {
            for x in 0..width {
                data.extend([x as u8, y as u8, 7]);
            }
        }
        Rgb {
            data,
            width,
            height,
        }
    }

    #[test]
    fn an_upright_box_is_cut_out_unchanged() {
        let image = gradient(40, 30);
        let crop = line(
            &image,
            &[[5.0, 4.0], [25.0, 4.0], [25.0, 14.0], [5.0, 14.0]],
        )
        .expect("a crop");
        assert_eq!((crop.width, crop.height), (20, 10));
        assert_eq!(&crop.data[..3], &[5, 4, 7]);
        let last = (9 * 20 + 19) * 3;
        assert_eq!(&crop.data[last..last + 3], &[24, 13, 7]);
    }

    #[test]
    fn a_tall_box_is_turned_to_read_left_to_right() {
        let image = gradient(40, 60);
        let crop = line(
            &image,
            &[[10.0, 5.0], [20.0, 5.0], [20.0, 45.0], [10.0, 45.0]],
        )
        .expect("a crop");
        assert_eq!((crop.width, crop.height), (40, 10));
        // Counter-clockwise: the crop's top-left is the box's top-right.
        assert_eq!(&crop.data[..3], &[19, 5, 7]);
    }

    #[test]
    fn degenerate_boxes_give_nothing() {
        let image = gradient(10, 10);
        assert!(line(&image, &[[1.0, 1.0]; 4]).is_none());
    }
}
