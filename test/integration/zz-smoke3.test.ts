test('hang', async () => { await new Promise((r) => setTimeout(r, 60_000)); }, 70_000);
