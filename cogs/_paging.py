"""A private paged list with Newer / Older buttons, shared by the cogs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord


class Pager(discord.ui.View):
    """Newer / Older buttons on a private paged list; only the member who asked can turn pages.

    ``render(page)`` returns the embed for that page and the number of pages.
    """

    def __init__(self, owner_id: int, render: Callable[[int], Awaitable[tuple[discord.Embed, int]]], page: int) -> None:
        super().__init__(timeout=600)
        self.owner_id = owner_id
        self.render = render
        self.page = page
        self.pages = 1

    async def first(self) -> discord.Embed:
        return await self._show(self.page)

    async def _show(self, page: int) -> discord.Embed:
        embed, self.pages = await self.render(page)
        self.page = min(max(1, page), self.pages)
        self.newer.disabled = self.page <= 1
        self.older.disabled = self.page >= self.pages
        return embed

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return interaction.user.id == self.owner_id

    @discord.ui.button(label="◀ Newer", style=discord.ButtonStyle.secondary)
    async def newer(self, interaction: discord.Interaction, button: discord.ui.Button[Pager]) -> None:
        await interaction.response.edit_message(embed=await self._show(self.page - 1), view=self)

    @discord.ui.button(label="Older ▶", style=discord.ButtonStyle.secondary)
    async def older(self, interaction: discord.Interaction, button: discord.ui.Button[Pager]) -> None:
        await interaction.response.edit_message(embed=await self._show(self.page + 1), view=self)
