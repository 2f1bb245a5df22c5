"""Macros: the model, ``((tag))`` templating that always yields valid JSON, presets,
secrets and masking. No Textual here: the CLI and the TUI both use this API.
"""

from cctui.macros.model import Macro, load_macro_file, parse_headers
from cctui.macros.presets import KINDS as PRESETS
from cctui.macros.presets import preset
from cctui.macros.request import RenderedRequest, check_tags, render_request
from cctui.macros.samples import sample_macros
from cctui.macros.secrets import MASK, mask_headers, mask_text, mask_url
from cctui.macros.tags import available_tags
from cctui.macros.templating import compile_body

__all__ = [
    "MASK", "PRESETS", "Macro", "RenderedRequest", "available_tags", "check_tags",
    "compile_body", "load_macro_file", "mask_headers", "mask_text", "mask_url",
    "parse_headers", "preset", "render_request", "sample_macros",
]
