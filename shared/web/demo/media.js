// Images: upload with progress through the SDK's presigned PUT, and the timeline's thumbnails,
// whose expiring download URLs are asked for once per media id.
import { $, state } from "./state.js";

const FORMATS = { "image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp" };
const urls = new Map();

/** Uploads `file` (an image) and returns the image element to send; progress shows meanwhile. */
export async function uploadImage(file) {
  const format = FORMATS[file.type];
  if (!format) throw new Error(`not an image the server takes: ${file.type || "unknown type"}`);
  const progress = $("upload-progress");
  progress.value = 0;
  progress.hidden = false;
  try {
    const mediaId = await state.client.uploadMedia(file, {
      kind: "image",
      contentType: file.type,
      onProgress: (sent, total) => (progress.value = total > 0 ? sent / total : 1),
    });
    // The server makes the renditions; one id names them all.
    return { type: "image", format, original: { mediaId, size: file.size }, large: { mediaId }, thumbnail: { mediaId } };
  } finally {
    progress.hidden = true;
  }
}

/** An <img> of the image element's thumbnail (or the original where it has none). */
export function thumbnail(image) {
  const img = document.createElement("img");
  img.dataset.testid = "thumbnail";
  img.alt = "image";
  const source = image.thumbnail ?? image.original;
  if (source.url) {
    img.src = source.url;
    return img;
  }
  const rendition = image.thumbnail ? "thumbnail" : "original";
  const key = `${source.mediaId} ${rendition}`;
  if (!urls.has(key)) {
    const asked = state.client.mediaDownload({ mediaId: source.mediaId, rendition }).then((reply) => reply.url);
    // A failed request is asked again at the next render rather than remembered.
    asked.catch(() => urls.delete(key));
    urls.set(key, asked);
  }
  urls.get(key).then((url) => (img.src = url), () => (img.alt = "image unavailable"));
  return img;
}
