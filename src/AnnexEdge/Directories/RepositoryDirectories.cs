using System.IO.Enumeration;
using AnnexEdge.Configuration;

namespace AnnexEdge.Directories;

/// <summary>A git-annex repository found in a directory: its name (the subdirectory without <c>.git</c>), annex.uuid and path.</summary>
internal sealed record FoundRepository(string Name, string Uuid, string Directory);

/// <summary>
/// Finds the git-annex repositories of <c>AnnexEdge:Directories</c> as <c>git annex p2phttp --directory</c> does (each
/// immediate subdirectory that is a repository with an annex.uuid), reading each git config file itself: a scan of
/// thousands of repositories starts no process.
/// </summary>
internal static class RepositoryDirectories
{
    // As Directory.EnumerateDirectories: hidden and system entries too (names with a dot are skipped below), and an
    // unreadable directory is an error, not an empty one.
    private static readonly EnumerationOptions Listing = new() { AttributesToSkip = 0, IgnoreInaccessible = false };

    /// <summary>
    /// The repositories of each directory, in their order, for the edge (a reload, a rescan) and for <c>check-config</c>
    /// alike; <paramref name="unreadable"/> says what stands for a directory that cannot be listed, and
    /// <paramref name="progress"/> may give each directory a callback for the subdirectories it looks at, and
    /// <paramref name="cache"/> keeps what the scan found for the next one (the edge's rescans).
    /// </summary>
    public static List<IReadOnlyList<FoundRepository>> ScanAll(
        IEnumerable<DirectoryOptions> directories,
        Func<DirectoryOptions, Exception, IReadOnlyList<FoundRepository>> unreadable,
        Func<DirectoryOptions, Action?>? progress = null,
        DirectoryScanCache? cache = null)
    {
        cache ??= new DirectoryScanCache();
        var found = new List<IReadOnlyList<FoundRepository>>();
        foreach (var directory in directories)
        {
            try
            {
                found.Add(Scan(directory.Path, progress?.Invoke(directory), cache));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                found.Add(unreadable(directory, e));
            }
        }

        cache.EndScan();
        return found;
    }

    /// <summary>
    /// The repositories in <paramref name="path"/>, by name; <paramref name="visited"/> is told each subdirectory looked
    /// at, and a subdirectory whose config file is unchanged since <paramref name="cache"/>'s last scan is not read
    /// again.
    /// </summary>
    /// <exception cref="IOException">The directory cannot be listed.</exception>
    /// <exception cref="UnauthorizedAccessException">The directory cannot be listed.</exception>
    public static IReadOnlyList<FoundRepository> Scan(string path, Action? visited = null, DirectoryScanCache? cache = null)
    {
        cache ??= new DirectoryScanCache();
        var known = cache.Directory(path);
        var byName = known.GetAlternateLookup<ReadOnlySpan<char>>();
        // A subdirectory seen before is looked up by the name the listing holds, so none of its strings is made again.
        var subdirectories = new FileSystemEnumerable<DirectoryScanCache.Subdirectory>(
            path,
            (ref entry) =>
            {
                if (!byName.TryGetValue(entry.FileName, out var subdirectory))
                {
                    var name = entry.FileName.ToString();
                    known[name] = subdirectory = new DirectoryScanCache.Subdirectory(entry.ToFullPath(), name);
                }

                return subdirectory;
            },
            Listing)
        {
            ShouldIncludePredicate = (ref entry) => entry.IsDirectory && !entry.FileName.StartsWith('.'),
        };

        var found = new List<FoundRepository>(known.Count);
        foreach (var subdirectory in subdirectories)
        {
            visited?.Invoke();
            try
            {
                if (cache.Repository(subdirectory) is { } repository)
                {
                    found.Add(repository);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Removed or being written while scanned: the next scan sees it as it is then.
            }
        }

        found.Sort(static (a, b) => StringComparer.Ordinal.Compare(a.Name, b.Name));
        return found;
    }

    /// <summary>
    /// The <c>uuid</c> of the <c>[annex]</c> section of a git config file (the last one, as git reads it), or null.
    /// Enough of git's format for what <c>git annex init</c> writes: no includes, no subsections.
    /// </summary>
    public static string? AnnexUuid(IEnumerable<string> lines)
    {
        string? uuid = null;
        var inAnnex = false;
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.StartsWith('['))
            {
                var end = line.IndexOf(']', StringComparison.Ordinal);
                inAnnex = end > 0 && line[1..end].Trim().Equals("annex", StringComparison.OrdinalIgnoreCase);
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (inAnnex && equals > 0 && line[..equals].Trim().Equals("uuid", StringComparison.OrdinalIgnoreCase))
            {
                var value = line[(equals + 1)..];
                var comment = value.IndexOfAny(['#', ';']);
                uuid = (comment >= 0 ? value[..comment] : value).Trim().Trim('"');
            }
        }

        return string.IsNullOrEmpty(uuid) ? null : uuid;
    }

    /// <summary>
    /// <paramref name="configured"/> with the repositories found in its directories (<paramref name="found"/>, one
    /// list per <c>Directories</c> entry) after its own. A found repository that cannot be served is left out and
    /// said why: a name that is not valid, reserved or taken (configured names win, then the first directory and the
    /// first name), or a UUID that is not valid or already served. The repositories of a directory get its
    /// <c>Backends</c>, or the entry of <paramref name="backends"/> for it where that is not null (a managed p2phttp).
    /// </summary>
    public static (AnnexEdgeOptions Effective, IReadOnlyList<FoundRepository> Served, IReadOnlyList<string> Skipped) Merge(
        AnnexEdgeOptions configured, IReadOnlyList<IReadOnlyList<FoundRepository>> found, IReadOnlyList<IReadOnlyList<string>?>? backends = null)
    {
        var names = new HashSet<string>(
            configured.Repositories.Select(r => r.Name).Concat(configured.Clusters.Select(c => c.Name)), StringComparer.OrdinalIgnoreCase);
        var uuids = new HashSet<string>(
            configured.Repositories.Select(r => r.Uuid).Concat(configured.Clusters.Select(c => c.Uuid)), StringComparer.Ordinal);
        if (configured.Uuid is { } own)
        {
            uuids.Add(own);
        }

        var repositories = new List<RepositoryOptions>(configured.Repositories);
        var served = new List<FoundRepository>();
        var skipped = new List<string>();
        for (var i = 0; i < found.Count; i++)
        {
            var directory = configured.Directories[i];
            var directoryBackends = backends?[i] is { } given ? [.. given] : directory.Backends;
            foreach (var repository in found[i])
            {
                var problem = Problem(repository, names, uuids);
                if (problem is not null)
                {
                    skipped.Add($"{repository.Directory}: {problem}");
                    continue;
                }

                names.Add(repository.Name);
                uuids.Add(repository.Uuid);
                served.Add(repository);
                repositories.Add(new RepositoryOptions
                {
                    Name = repository.Name,
                    Uuid = repository.Uuid,
                    Backends = directoryBackends,
                    Jobs = directory.Jobs,
                    GitDirectory = repository.Directory,
                    FoundInDirectory = true,
                });
            }
        }

        return (configured.WithRepositories(repositories), served, skipped);
    }

    private static string? Problem(FoundRepository repository, HashSet<string> names, HashSet<string> uuids)
    {
        if (!AnnexEdgeOptionsValidator.IsName(repository.Name)
            || repository.Name.StartsWith('.')
            || AnnexEdgeOptionsValidator.ReservedGitNames.Contains(repository.Name, StringComparer.OrdinalIgnoreCase))
        {
            return $"name \"{repository.Name}\" cannot be served (letters, digits, '.', '_' and '-' only, and not a path of the edge's own)";
        }

        if (names.Contains(repository.Name))
        {
            return $"name \"{repository.Name}\" is already served (a configured repository or cluster, or another directory's)";
        }

        if (!AnnexEdgeOptionsValidator.IsUuid(repository.Uuid))
        {
            return $"annex.uuid \"{repository.Uuid}\" is not a UUID";
        }

        return uuids.Contains(repository.Uuid) ? $"annex.uuid {repository.Uuid} is already served under another name" : null;
    }
}
