using System.Security.Cryptography;
using System.Text;

namespace AnnexEdge.Routing;

/// <summary>A repository the edge serves, with the YARP cluster that holds its backends.</summary>
internal sealed record Repository(string Name, string Uuid, IReadOnlyList<Backend> Backends, string LoadBalancing, double Cost = 100, int MaxLocks = 1, int Jobs = 4)
    : Target(Name, Uuid)
{
    /// <summary>YARP route and YARP cluster id of the repository (a YARP cluster is not a git-annex cluster).</summary>
    public string YarpClusterId => Via?.YarpClusterId ?? "repo:" + Name;

    /// <summary>
    /// The peer a node that this edge does not serve itself is reached through (see <c>Peering/PeerRoutes</c>); null
    /// for a configured repository. Such a node is served as a repository whose backends are the peer's.
    /// </summary>
    public Peer? Via { get; init; }

    /// <summary>
    /// Set when this target is not one node but a cluster's nodes behind a peer, written with one request to the
    /// cluster UUID at the peer; null for a node.
    /// </summary>
    public PeerShare? Share { get; init; }

    /// <summary>
    /// Found in one of <c>Directories</c>: its backends are those of the directory, shared by all its repositories, so
    /// <c>Health/SharedBackendProber</c> probes each once for all of them instead of YARP once per repository.
    /// </summary>
    public bool FromDirectory { get; init; }

    public override string LogProperty => Logging.RequestLogProperties.Repository;
}

/// <summary>
/// One <c>git annex p2phttp</c> server of a repository. Its id is derived from the repository and the URL,
/// so every edge process with the same configuration gives the same backend the same id (lock tokens carry it)
/// without exposing the backend's address to clients.
/// </summary>
internal sealed record Backend(string Id, string Address)
{
    public static Backend For(string repositoryName, string url)
    {
        var address = url.TrimEnd('/');
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(repositoryName + "\n" + address));
        return new Backend(repositoryName + "." + Convert.ToHexStringLower(hash.AsSpan(0, 6)), address);
    }
}
