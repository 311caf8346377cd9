import { iconLabel, type previewKind } from './format';

/** A tiny element builder: h('a', { href }, 'text', child). Text is always set as text, never as HTML. */
export function h(tag: string, attributes: Record<string, string | undefined> = {}, ...children: (Node | string)[]): HTMLElement {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) if (value !== undefined) element.setAttribute(name, value);
    element.append(...children);
    return element;
}

/** A file-type glyph: the type's usual extension on a page shape, pure CSS and text. */
export function fileIcon(contentType: string): HTMLElement {
    return h('div', { class: 'file-icon', 'aria-hidden': 'true' }, iconLabel(contentType));
}

/** A card's preview of the content at `src`: the image, a video player, or else the type's glyph. */
export function mediaPreview(kind: ReturnType<typeof previewKind>, src: string, name: string, contentType: string, lazy: boolean): HTMLElement {
    if (kind === 'image') return h('img', { src, alt: name, loading: lazy ? 'lazy' : undefined, decoding: 'async' });
    if (kind === 'video') {
        const video = h('video', { src, controls: '', preload: 'metadata', muted: '', playsinline: '' });
        video.setAttribute('aria-label', name);
        return video;
    }
    return fileIcon(contentType);
}
