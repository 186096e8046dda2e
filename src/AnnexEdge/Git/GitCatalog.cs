using System.Collections.Frozen;
using AnnexEdge.Configuration;
using AnnexEdge.Routing;

namespace AnnexEdge.Git;

/// <summary>
/// A git repository the edge serves at <c>/NAME</c>: the repository or cluster it belongs to (for access rules and
/// logs), the annex.uuid its <c>config</c> gives clients, and where its git lives: a <see cref="Directory"/> on this
/// machine or an <see cref="Upstream"/> git server.
/// </summary>
internal sealed record GitRepository(Target Target, string AnnexUuid, string? Directory, Uri? Upstream)
{
    public string Name => Target.Name;
}

/// <summary>
/// Resolves the first path segment of a request to the git repository it names, per request, so the set of
/// repositories can change without routes baked in at start-up. <c>NAME.git</c> names <c>NAME</c> unless a
/// repository is called <c>NAME.git</c> itself (validation keeps the two from both being served).
/// </summary>
internal sealed class GitCatalog
{
    private readonly FrozenDictionary<string, GitRepository> _byName;

    public GitCatalog(AnnexEdgeOptions options, CatalogSnapshot catalog)
    {
        var repositories = options.Repositories
            .Where(r => r.GitDirectory is not null || r.GitUpstream is not null)
            .Select(r => new GitRepository(
                catalog.Repositories.Single(c => c.Name == r.Name), r.Uuid, r.GitDirectory, Upstream(r.GitUpstream)));
        // A cluster's git is its gateway repository's, whose annex.uuid is the edge's own: a client that clones it
        // learns the cluster and its nodes from the git-annex branch and reaches them all through that one remote.
        var clusters = options.Clusters
            .Where(c => c.GitDirectory is not null || c.GitUpstream is not null)
            .Select(c => new GitRepository(
                catalog.Clusters.Single(k => k.Name == c.Name), options.Uuid!, c.GitDirectory, Upstream(c.GitUpstream)));
        Repositories = repositories.Concat(clusters).ToArray();
        _byName = Repositories.ToFrozenDictionary(r => r.Name, StringComparer.OrdinalIgnoreCase);
    }

    public IReadOnlyList<GitRepository> Repositories { get; }

    /// <summary>The git repository this path segment names, or null.</summary>
    public GitRepository? Find(string segment) =>
        _byName.GetValueOrDefault(segment)
        ?? (segment.EndsWith(".git", StringComparison.OrdinalIgnoreCase) ? _byName.GetValueOrDefault(segment[..^4]) : null);

    // The upstream's paths are appended to it, so its own path ends without a slash.
    private static Uri? Upstream(string? url) => url is null ? null : new Uri(url.TrimEnd('/'));
}
