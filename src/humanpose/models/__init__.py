"""Model cards (what a network expects and emits) and released-model management."""

from humanpose.models.card import (ModelCard, builtin_cards, card_from_dict, get_card,
                                   infer_card, load_card, resolve_card)

__all__ = ['ModelCard', 'builtin_cards', 'card_from_dict', 'get_card', 'infer_card', 'load_card',
           'resolve_card']
