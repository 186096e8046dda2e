namespace AnnexEdge.Directories;

/// <summary>
/// The annex.uuid of each git config file a scan read, kept with the file's last write time and length: the next scan
/// reads only the files that changed, so a periodic rescan of a forge's 10,000 unchanged repositories costs a stat each
/// instead of an open and a read. One per <see cref="Hosting.ConfigReload"/> (scans are serialised there), not shared.
/// </summary>
internal sealed class ConfigUuidCache(Func<string, IEnumerable<string>>? read = null)
{
    private readonly Func<string, IEnumerable<string>> _read = read ?? File.ReadLines;
    private Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private Dictionary<string, Entry> _seen = new(StringComparer.Ordinal);

    /// <summary>The annex.uuid of <paramref name="config"/> (null if it has none), read again only if it changed.</summary>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">The file cannot be read.</exception>
    public string? Uuid(FileInfo config)
    {
        // Both from the one stat FileInfo makes; `git annex reinit` rewrites the file, so its write time changes.
        var stamp = (config.LastWriteTimeUtc, config.Length);
        if (!_entries.TryGetValue(config.FullName, out var entry) || entry.Stamp != stamp)
        {
            entry = new Entry(stamp, RepositoryDirectories.AnnexUuid(_read(config.FullName)));
        }

        _seen[config.FullName] = entry;
        return entry.Uuid;
    }

    /// <summary>Ends a scan: files it did not look at (repositories removed) are forgotten.</summary>
    public void EndScan()
    {
        (_entries, _seen) = (_seen, _entries);
        _seen.Clear();
    }

    private readonly record struct Entry((DateTime WriteTime, long Length) Stamp, string? Uuid);
}
