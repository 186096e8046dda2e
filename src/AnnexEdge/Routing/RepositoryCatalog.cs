using System.Collections.Frozen;
using AnnexEdge.Configuration;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Routing;

/// <summary>Looks up what a repository UUID names, from the validated configuration.</summary>
public sealed class RepositoryCatalog
{
    private readonly FrozenDictionary<string, Repository> _byUuid;

    public RepositoryCatalog(IOptions<AnnexEdgeOptions> options)
        : this(options.Value)
    {
    }

    public RepositoryCatalog(AnnexEdgeOptions options)
    {
        Repositories = options.Repositories
            .Select(r => new Repository(
                r.Name,
                r.Uuid,
                r.Backends.Select(b => Backend.For(r.Name, b)).ToArray(),
                r.LoadBalancing ?? "PowerOfTwoChoices"))
            .ToArray();
        _byUuid = Repositories.ToFrozenDictionary(r => r.Uuid, StringComparer.Ordinal);
    }

    public IReadOnlyList<Repository> Repositories { get; }

    public Repository? Find(string uuid) => _byUuid.GetValueOrDefault(uuid);
}
