// Loaded with a dynamic import(): the build rewrites that specifier too.
export async function showStats(target) {
  const response = await fetch("/api/status");
  const status = await response.json();
  target.textContent = `${status.assets} assets in build generation ${status.generation}`;
  target.dataset.loaded = "true";
}
