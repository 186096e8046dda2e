namespace AnnexEdge.Directories;

/// <summary>
/// What the last scan found in each subdirectory of each scanned directory, with its git config file's last write time
/// and length. The next scan stats each config file again through the same <see cref="FileInfo"/> and, where it is
/// unchanged, hands back the same <see cref="FoundRepository"/>: a periodic rescan of a forge's 10,000 unchanged
/// repositories reads no file and allocates next to nothing (it made ~5 MB of garbage every <c>RescanInterval</c>,
/// which kept an idle forge's edge growing by tens of MiB between collections; bench/README.md, forge, "Session 15").
/// One per <see cref="Hosting.ConfigReload"/> (scans are serialised there), not shared.
/// </summary>
internal sealed class DirectoryScanCache(Func<string, IEnumerable<string>>? read = null)
{
    private readonly Func<string, IEnumerable<string>> _read = read ?? File.ReadLines;
    private readonly Dictionary<string, Dictionary<string, Subdirectory>> _directories = new(StringComparer.Ordinal);
    private int _scan;

    /// <summary>The subdirectories of <paramref name="path"/> its last scan looked at, by name.</summary>
    public Dictionary<string, Subdirectory> Directory(string path)
    {
        if (!_directories.TryGetValue(path, out var subdirectories))
        {
            _directories[path] = subdirectories = new Dictionary<string, Subdirectory>(StringComparer.Ordinal);
        }

        return subdirectories;
    }

    /// <summary>
    /// The repository in <paramref name="subdirectory"/> now (null if there is none), its config file read again only if
    /// it changed; marks it seen by this scan.
    /// </summary>
    /// <exception cref="IOException">The config file cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">The config file cannot be read.</exception>
    public FoundRepository? Repository(Subdirectory subdirectory)
    {
        subdirectory.Scan = _scan;
        return subdirectory.Look(_read);
    }

    /// <summary>Ends a scan: subdirectories and directories it did not look at (removed) are forgotten.</summary>
    public void EndScan()
    {
        foreach (var (path, subdirectories) in _directories)
        {
            foreach (var (name, subdirectory) in subdirectories)
            {
                if (subdirectory.Scan != _scan)
                {
                    subdirectories.Remove(name);
                }
            }

            if (subdirectories.Count == 0)
            {
                _directories.Remove(path);
            }
        }

        _scan++;
    }

    /// <summary>A subdirectory of a scanned directory: its paths, made once, and what its config file said.</summary>
    internal sealed class Subdirectory(string path, string name)
    {
        private readonly FileInfo _nonBare = new(System.IO.Path.Combine(path, ".git", "config"));
        private readonly FileInfo _bare = new(System.IO.Path.Combine(path, "config"));
        private readonly string _head = System.IO.Path.Combine(path, "HEAD");
        private FileInfo? _config;
        private (DateTime WriteTime, long Length) _stamp;
        private FoundRepository? _found;

        // The repository's name: the subdirectory's without ".git".
        private readonly string _name = name.EndsWith(".git", StringComparison.OrdinalIgnoreCase) ? name[..^4] : name;

        /// <summary>The last scan that looked at it.</summary>
        public int Scan { get; set; }

        /// <summary>The repository it holds now, its config file read with <paramref name="read"/> only if it changed.</summary>
        /// <exception cref="IOException">The config file cannot be read.</exception>
        /// <exception cref="UnauthorizedAccessException">The config file cannot be read.</exception>
        public FoundRepository? Look(Func<string, IEnumerable<string>> read)
        {
            var config = ConfigFile();
            if (config is null)
            {
                (_config, _found) = (null, null);
                return null;
            }

            // Both from the one stat Refresh made; `git annex reinit` rewrites the file, so its write time changes.
            var stamp = (config.LastWriteTimeUtc, config.Length);
            if (!ReferenceEquals(config, _config) || stamp != _stamp)
            {
                // Kept only once read: a config that cannot be read now is read at the next scan.
                var uuid = RepositoryDirectories.AnnexUuid(read(config.FullName));
                (_config, _stamp) = (config, stamp);
                _found = uuid is null ? null : new FoundRepository(_name, uuid, path);
            }

            return _found;
        }

        /// <summary>The git config file of a non-bare (<c>X/.git/config</c>) or bare (<c>X.git/config</c> with HEAD) repository, stat'ed now.</summary>
        private FileInfo? ConfigFile()
        {
            _nonBare.Refresh();
            if (_nonBare.Exists)
            {
                return _nonBare;
            }

            _bare.Refresh();
            return _bare.Exists && File.Exists(_head) ? _bare : null;
        }
    }
}
