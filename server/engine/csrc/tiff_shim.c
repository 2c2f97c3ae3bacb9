/* Reads the first page of a TIFF held in memory with the system libtiff, as 8-bit RGBA in the
 * file's own stored orientation, with libtiff's messages kept for the caller instead of printed.
 * TIFFReadRGBAImage converts whatever libtiff understands (palette, CIELab, YCbCr, CMYK, 1 to
 * 16 bits, JPEG, LZW, Deflate, predictors, tiles, BigTIFF) to RGBA. Built by build.rs with the
 * `libtiff` feature; called from src/media/libtiff.rs. */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

typedef struct {
    const uint8_t *data;
    uint64_t len;
    uint64_t pos;
    char *err;
    size_t err_len;
} trove_tiff_src;

static tmsize_t src_read(thandle_t h, void *buf, tmsize_t n) {
    trove_tiff_src *s = (trove_tiff_src *)h;
    if (n <= 0 || s->pos >= s->len) return 0;
    uint64_t left = s->len - s->pos;
    uint64_t take = (uint64_t)n < left ? (uint64_t)n : left;
    memcpy(buf, s->data + s->pos, (size_t)take);
    s->pos += take;
    return (tmsize_t)take;
}

static tmsize_t src_write(thandle_t h, void *buf, tmsize_t n) {
    (void)h; (void)buf; (void)n;
    return -1;
}

static toff_t src_seek(thandle_t h, toff_t off, int whence) {
    trove_tiff_src *s = (trove_tiff_src *)h;
    uint64_t base = whence == SEEK_CUR ? s->pos : whence == SEEK_END ? s->len : 0;
    if (off > UINT64_MAX - base) return (toff_t)-1;
    s->pos = base + off;
    return s->pos;
}

static int src_close(thandle_t h) { (void)h; return 0; }

static toff_t src_size(thandle_t h) { return ((trove_tiff_src *)h)->len; }

static int src_map(thandle_t h, void **base, toff_t *size) {
    (void)h; (void)base; (void)size;
    return 0;
}

static void src_unmap(thandle_t h, void *base, toff_t size) { (void)h; (void)base; (void)size; }

/* Keeps the first error; later ones are usually its consequences. */
static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)module;
    trove_tiff_src *s = (trove_tiff_src *)user;
    if (s->err_len > 0 && s->err[0] == '\0') vsnprintf(s->err, s->err_len, fmt, ap);
    return 1;
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)user; (void)module; (void)fmt; (void)ap;
    return 1;
}

/* Decodes the first page. Returns 0 and sets *out (free it with trove_tiff_free), *width and
 * *height on success; 1 when the image has more than max_pixels pixels (*width and *height
 * set); 2 when libtiff cannot read it (err holds why). */
int trove_tiff_decode(const uint8_t *data, uint64_t len, uint64_t max_pixels, uint32_t **out,
                      uint32_t *width, uint32_t *height, char *err, size_t err_len) {
    trove_tiff_src src = {data, len, 0, err, err_len};
    if (err_len > 0) err[0] = '\0';
    *out = NULL;
    *width = 0;
    *height = 0;
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts) return 2;
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, &src);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, &src);
    /* No single allocation of libtiff's own (a strip, a tile, a table) above 256 MB. */
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)256 << 20);
    TIFF *tif = TIFFClientOpenExt("memory", "rm", (thandle_t)&src, src_read, src_write, src_seek,
                                  src_close, src_size, src_map, src_unmap, opts);
    TIFFOpenOptionsFree(opts);
    if (!tif) return 2;
    uint32_t w = 0, h = 0;
    uint16_t orientation = ORIENTATION_TOPLEFT;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &orientation);
    *width = w;
    *height = h;
    if (w == 0 || h == 0) {
        if (err_len > 0 && err[0] == '\0') snprintf(err, err_len, "the header says it has no pixels");
        TIFFClose(tif);
        return 2;
    }
    if ((uint64_t)w * (uint64_t)h > max_pixels) {
        TIFFClose(tif);
        return 1;
    }
    char why[1024] = "";
    if (!TIFFRGBAImageOK(tif, why)) {
        if (err_len > 0 && err[0] == '\0') snprintf(err, err_len, "%s", why);
        TIFFClose(tif);
        return 2;
    }
    uint32_t *raster = (uint32_t *)malloc((size_t)w * (size_t)h * sizeof(uint32_t));
    if (!raster) {
        if (err_len > 0 && err[0] == '\0') snprintf(err, err_len, "out of memory");
        TIFFClose(tif);
        return 2;
    }
    /* Asking for the file's own orientation leaves the pixels as stored; Trove applies the
     * orientation itself, as for every other format. */
    if (orientation < 1 || orientation > 8) orientation = ORIENTATION_TOPLEFT;
    if (!TIFFReadRGBAImageOriented(tif, w, h, raster, orientation, 1)) {
        if (err_len > 0 && err[0] == '\0') snprintf(err, err_len, "the pixel data cannot be read");
        free(raster);
        TIFFClose(tif);
        return 2;
    }
    TIFFClose(tif);
    *out = raster;
    return 0;
}

void trove_tiff_free(uint32_t *raster) { free(raster); }
