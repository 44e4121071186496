/** Sends media bytes to a presigned URL, reporting progress. */

import type { PresignedRequest } from "./types.js";

/** Upload progress: bytes sent of the total. */
export type Progress = (sent: number, total: number) => void;

/** Bytes to upload. */
export type UploadBody = Blob | ArrayBuffer | Uint8Array;

/** The size of `body` in bytes. */
export function byteSize(body: UploadBody): number {
  return body instanceof Blob ? body.size : body.byteLength;
}

async function bytesOf(body: UploadBody): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  return new Uint8Array(await body.arrayBuffer());
}

// The browser forbids scripts to set Content-Length; it sends the right one for a body of that size.
const BROWSER_SET = new Set(["content-length", "host"]);

function viaXhr(request: PresignedRequest, body: UploadBody, onProgress?: Progress): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(request.method, request.url);
    for (const [name, value] of Object.entries(request.headers)) {
      if (!BROWSER_SET.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (event) => onProgress?.(event.loaded, event.total);
    xhr.onload = () =>
      xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(new Error(`upload answered ${xhr.status}`));
    xhr.onerror = () => reject(new Error("upload failed"));
    const payload = body instanceof Uint8Array ? new Blob([body as Uint8Array<ArrayBuffer>]) : body;
    xhr.send(payload);
  });
}

/** Chunk size of a streamed upload: progress is reported per chunk. */
const CHUNK = 64 * 1024;

async function viaFetch(request: PresignedRequest, body: UploadBody, onProgress?: Progress): Promise<void> {
  const bytes = await bytesOf(body);
  const total = bytes.byteLength;
  let offset = 0;
  // Progress counts the chunks fetch pulls from the stream, which is what has been handed to the network.
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= total) {
        controller.close();
        return;
      }
      const chunk = bytes.subarray(offset, Math.min(total, offset + CHUNK));
      offset += chunk.byteLength;
      controller.enqueue(chunk);
      onProgress?.(offset, total);
    },
  });
  const response = await fetch(request.url, {
    method: request.method,
    headers: request.headers,
    body: total === 0 ? bytes : stream,
    duplex: "half",
  } as RequestInit);
  if (!response.ok) throw new Error(`upload answered ${response.status}`);
}

/** PUTs `body` as `request` says: XMLHttpRequest where there is one (progress events), else fetch. */
export function putMedia(request: PresignedRequest, body: UploadBody, onProgress?: Progress): Promise<void> {
  return typeof XMLHttpRequest === "undefined"
    ? viaFetch(request, body, onProgress)
    : viaXhr(request, body, onProgress);
}
