using System.Text.RegularExpressions;
using Yarp.ReverseProxy.LoadBalancing;

namespace AnnexEdge.Configuration;

/// <summary>
/// Checks the configuration at start-up and names every offending entry in one line an operator can act on.
/// </summary>
internal static partial class AnnexEdgeOptionsValidator
{
    private static readonly string[] KnownLoadBalancing =
    [
        LoadBalancingPolicies.PowerOfTwoChoices, LoadBalancingPolicies.LeastRequests, LoadBalancingPolicies.RoundRobin,
        LoadBalancingPolicies.Random, LoadBalancingPolicies.FirstAlphabetical,
    ];

    public static IReadOnlyList<string> Errors(AnnexEdgeOptions options)
    {
        var errors = new List<string>();
        const string prefix = AnnexEdgeOptions.SectionName;

        if (options.Uuid is { } edgeUuid && !IsUuid(edgeUuid))
        {
            errors.Add($"{prefix}:Uuid \"{edgeUuid}\" is not a UUID (expected lowercase 8-4-4-4-12 hex, as in annex.uuid)");
        }

        if (options.Repositories.Count == 0 && options.Directories.Count == 0)
        {
            errors.Add($"{prefix}:Repositories is empty: configure at least one repository with Name, Uuid and Backends, or a Directories entry (see config/annexedge.example.json)");
        }

        ValidateDirectories(options, errors);

        var names = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var uuids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < options.Repositories.Count; i++)
        {
            var repo = options.Repositories[i];
            var at = $"{prefix}:Repositories[{i}]" + (string.IsNullOrWhiteSpace(repo.Name) ? "" : $" ({repo.Name})");

            if (string.IsNullOrWhiteSpace(repo.Name))
            {
                errors.Add($"{at}: Name is missing");
            }
            else if (!NamePattern().IsMatch(repo.Name))
            {
                errors.Add($"{at}: Name \"{repo.Name}\" may only hold letters, digits, '.', '_' and '-'");
            }
            else if (names.TryGetValue(repo.Name, out var first))
            {
                errors.Add($"{at}: Name \"{repo.Name}\" is already used by {prefix}:Repositories[{first}]");
            }
            else
            {
                names[repo.Name] = i;
            }

            if (!IsUuid(repo.Uuid))
            {
                errors.Add($"{at}: Uuid \"{repo.Uuid}\" is not a UUID (expected lowercase 8-4-4-4-12 hex, as in annex.uuid)");
            }
            else if (uuids.TryGetValue(repo.Uuid, out var first))
            {
                errors.Add($"{at}: Uuid {repo.Uuid} is already used by {prefix}:Repositories[{first}]");
            }
            else if (repo.Uuid == options.Uuid)
            {
                errors.Add($"{at}: Uuid {repo.Uuid} is the edge's own {prefix}:Uuid");
            }
            else
            {
                uuids[repo.Uuid] = i;
            }

            if (repo.Backends.Count == 0)
            {
                errors.Add($"{at}: Backends is empty: give the base URL of at least one `git annex p2phttp` server, e.g. http://127.0.0.1:9417");
            }

            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            for (var b = 0; b < repo.Backends.Count; b++)
            {
                var backend = repo.Backends[b];
                if (!TryParseBackend(backend, out var problem))
                {
                    errors.Add($"{at}: Backends[{b}] \"{backend}\" {problem}");
                }
                else if (!seen.Add(backend.TrimEnd('/')))
                {
                    errors.Add($"{at}: Backends[{b}] \"{backend}\" is listed twice");
                }
            }

            if (repo.Jobs < 2)
            {
                errors.Add($"{at}: Jobs {repo.Jobs} must be 2 or more, as git annex p2phttp --jobs needs");
            }

            if (repo.MaxLocks is < 0)
            {
                errors.Add($"{at}: MaxLocks {repo.MaxLocks} must be 0 or more");
            }

            if (!double.IsFinite(repo.Cost) || repo.Cost < 0)
            {
                errors.Add($"{at}: Cost {repo.Cost} must be a number of 0 or more");
            }

            if (repo.LoadBalancing is { } lb && !KnownLoadBalancing.Contains(lb, StringComparer.Ordinal))
            {
                errors.Add($"{at}: LoadBalancing \"{lb}\" is unknown; use one of {string.Join(", ", KnownLoadBalancing)}");
            }
        }

        ValidateClusters(options, names, uuids, errors);
        ValidatePeers(options, names, uuids, errors);
        ValidateGit(options, errors);

        var health = options.HealthChecks;
        if (health.Interval <= TimeSpan.Zero || health.Timeout <= TimeSpan.Zero || health.ReactivationPeriod <= TimeSpan.Zero)
        {
            errors.Add($"{prefix}:HealthChecks: Interval, Timeout and ReactivationPeriod must be positive durations (e.g. \"00:00:10\")");
        }

        if (health.FailureThreshold < 1)
        {
            errors.Add($"{prefix}:HealthChecks:FailureThreshold must be 1 or more");
        }

        if (options.Locking.TokenKey is { } key && !IsTokenKey(key))
        {
            errors.Add($"{prefix}:Locking:TokenKey must be base64 of 32 bytes or more (make one with: head -c 32 /dev/urandom | base64)");
        }

        if (options.Locking.MaxLocksPerClient < 0 || options.Locking.LockLifetime <= TimeSpan.Zero)
        {
            errors.Add($"{prefix}:Locking: MaxLocksPerClient must be 0 or more and LockLifetime positive");
        }

        if (!(options.Locking.MaxShareOfSlots is > 0 and <= 1))
        {
            errors.Add($"{prefix}:Locking:MaxShareOfSlots {options.Locking.MaxShareOfSlots} must be more than 0 and at most 1 (0.5: one client holds at most half of a backend's lock slots)");
        }

        if (options.Locking.ReservedForUsers < 0)
        {
            errors.Add($"{prefix}:Locking:ReservedForUsers {options.Locking.ReservedForUsers} must be 0 or more (lock slots per backend that only authenticated users may take)");
        }

        if (options.Forwarding.ActivityTimeout <= TimeSpan.Zero || options.Forwarding.ConnectTimeout <= TimeSpan.Zero
            || options.Forwarding.NodeAnswerTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{prefix}:Forwarding: ActivityTimeout, ConnectTimeout and NodeAnswerTimeout must be positive durations");
        }

        if (options.Forwarding.StallTimeout <= TimeSpan.Zero || options.Forwarding.StallTimeout > TimeSpan.FromDays(1))
        {
            errors.Add($"{prefix}:Forwarding:StallTimeout {options.Forwarding.StallTimeout} must be a positive duration of at most a day (e.g. \"00:00:20\")");
        }

        ValidateDownloadTransport(options.Forwarding, errors);

        if (options.Shutdown.GracePeriod <= TimeSpan.Zero || options.Shutdown.GracePeriod > ShutdownOptions.MaxGracePeriod)
        {
            errors.Add($"{prefix}:Shutdown:GracePeriod {options.Shutdown.GracePeriod} must be a positive duration of at most {ShutdownOptions.MaxGracePeriod} (e.g. \"00:00:30\"); keep systemd's TimeoutStopSec longer");
        }

        errors.AddRange(options.Acme.Errors($"{prefix}:Acme"));
        Security.SecurityOptionsValidator.Validate(options, errors);

        if (options.LogFormat is not ("text" or "json"))
        {
            errors.Add($"{prefix}:LogFormat \"{options.LogFormat}\" is unknown; use text or json");
        }

        return errors;
    }

    private static void ValidateDownloadTransport(ForwardingOptions forwarding, List<string> errors)
    {
        const string at = $"{AnnexEdgeOptions.SectionName}:Forwarding";
        var transports = Forwarding.Download.DownloadTransport.Names;
        if (!transports.Contains(forwarding.DownloadTransport, StringComparer.Ordinal))
        {
            errors.Add($"{at}:DownloadTransport \"{forwarding.DownloadTransport}\" is unknown; use one of {string.Join(", ", transports)}");
        }
        else if (forwarding.MaxConnectionsPerBackend > 0 && forwarding.DownloadTransport == Forwarding.Download.DownloadTransport.Edge)
        {
            // The edge's own download connections are not SocketsHttpHandler's, so its cap would not cover them.
            errors.Add($"{at}:MaxConnectionsPerBackend {forwarding.MaxConnectionsPerBackend} cannot limit the content downloads of "
                + $"{at}:DownloadTransport Edge (the default); set DownloadTransport to SocketsHttpHandler to limit every request, "
                + "or MaxConnectionsPerBackend to 0");
        }
    }

    /// <summary>
    /// First path segments the edge serves itself, which a git repository's <c>/NAME</c> must never shadow (compared
    /// case-insensitively, as the p2phttp prefix is matched).
    /// </summary>
    public static readonly string[] ReservedGitNames = ["git-annex", "_annexedge", "metrics", "health", "status", "favicon.ico", ".well-known"];

    private static void ValidateGit(AnnexEdgeOptions options, List<string> errors)
    {
        const string prefix = AnnexEdgeOptions.SectionName;
        if (options.Git.MaxBackendProcesses < 1 || options.Git.BackendQueueTimeout < TimeSpan.Zero)
        {
            errors.Add($"{prefix}:Git: MaxBackendProcesses ({options.Git.MaxBackendProcesses}) must be 1 or more and BackendQueueTimeout ({options.Git.BackendQueueTimeout}) not negative");
        }

        if (options.PublicUrl is { } publicUrl && !(IsPlainHttpUrl(publicUrl) && new Uri(publicUrl).AbsolutePath == "/"))
        {
            errors.Add($"{prefix}:PublicUrl \"{publicUrl}\" must be an absolute http:// or https:// URL of the edge itself, without path, query or user info (e.g. https://edge.example.org)");
        }

        var sources = options.Repositories.Select((r, i) => ($"{prefix}:Repositories[{i}] ({r.Name})", r.Name, r.GitDirectory, r.GitUpstream))
            .Concat(options.Clusters.Select((c, i) => ($"{prefix}:Clusters[{i}] ({c.Name})", c.Name, c.GitDirectory, c.GitUpstream)));
        var served = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (at, name, directory, upstream) in sources)
        {
            if (directory is null && upstream is null)
            {
                continue;
            }

            if (directory is not null && upstream is not null)
            {
                errors.Add($"{at}: set GitDirectory or GitUpstream, not both");
            }

            if (directory is not null && (!Path.IsPathFullyQualified(directory) || !Directory.Exists(directory)))
            {
                errors.Add($"{at}: GitDirectory \"{directory}\" is not an absolute path of an existing git repository directory");
            }

            if (upstream is not null && !IsPlainHttpUrl(upstream))
            {
                errors.Add($"{at}: GitUpstream \"{upstream}\" is not an absolute http:// or https:// URL without query, fragment or user info (the repository's clone URL at the git server)");
            }

            // /NAME and /NAME.git both reach the repository: neither may be a path the edge serves itself, or another's.
            var bare = name.EndsWith(".git", StringComparison.OrdinalIgnoreCase) ? name[..^4] : name;
            if (bare.Length == 0 || bare.StartsWith('.') || ReservedGitNames.Contains(bare, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"{at}: Name \"{name}\" cannot be served over git at /{name}: it is a path of the edge's own; rename the repository or cluster");
            }
            else if (served.TryGetValue(bare, out var other))
            {
                errors.Add($"{at}: Name \"{name}\" is served over git at the same /{bare} and /{bare}.git as {other}");
            }
            else
            {
                served[bare] = at;
            }
        }
    }

    public static bool IsUuid(string? value) => value is not null && UuidPattern().IsMatch(value);

    /// <summary>git-annex makes cluster UUIDs version 8 with "ac" as the first two hex digits.</summary>
    public static bool IsClusterUuid(string? value) => IsUuid(value) && value!.StartsWith("ac", StringComparison.Ordinal) && value[14] == '8';

    private static void ValidateClusters(AnnexEdgeOptions options, Dictionary<string, int> repositoryNames, Dictionary<string, int> repositoryUuids, List<string> errors)
    {
        const string prefix = AnnexEdgeOptions.SectionName;
        if (options.Clusters.Count > 0 && options.Uuid is null)
        {
            errors.Add($"{prefix}:Uuid is missing: a cluster gateway needs its own repository UUID (the gateway repository's annex.uuid)");
        }

        var names = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var uuids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < options.Clusters.Count; i++)
        {
            var cluster = options.Clusters[i];
            var at = $"{prefix}:Clusters[{i}]" + (string.IsNullOrWhiteSpace(cluster.Name) ? "" : $" ({cluster.Name})");
            if (string.IsNullOrWhiteSpace(cluster.Name) || !NamePattern().IsMatch(cluster.Name))
            {
                errors.Add($"{at}: Name is missing or holds characters other than letters, digits, '.', '_' and '-'");
            }
            else if (names.TryGetValue(cluster.Name, out var first))
            {
                errors.Add($"{at}: Name \"{cluster.Name}\" is already used by {prefix}:Clusters[{first}]");
            }
            else if (repositoryNames.ContainsKey(cluster.Name))
            {
                errors.Add($"{at}: Name \"{cluster.Name}\" is already the name of a repository");
            }
            else
            {
                names[cluster.Name] = i;
            }

            if (!IsClusterUuid(cluster.Uuid))
            {
                errors.Add($"{at}: Uuid \"{cluster.Uuid}\" is not a cluster UUID (git annex initcluster makes version-8 UUIDs starting with \"ac\")");
            }
            else if (uuids.TryGetValue(cluster.Uuid, out var first) )
            {
                errors.Add($"{at}: Uuid {cluster.Uuid} is already used by {prefix}:Clusters[{first}]");
            }
            else if (repositoryUuids.ContainsKey(cluster.Uuid) || cluster.Uuid == options.Uuid)
            {
                errors.Add($"{at}: Uuid {cluster.Uuid} is already the UUID of a repository or of the edge");
            }
            else
            {
                uuids[cluster.Uuid] = i;
            }

            if (cluster.Nodes.Count == 0)
            {
                errors.Add($"{at}: Nodes is empty: list the Names of the repositories that are its nodes");
            }

            foreach (var node in cluster.Nodes.Where(n => !repositoryNames.ContainsKey(n)))
            {
                errors.Add($"{at}: node \"{node}\" is not the Name of any repository in {prefix}:Repositories");
            }

            foreach (var node in cluster.Nodes.GroupBy(n => n, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
            {
                errors.Add($"{at}: node \"{node.Key}\" is listed twice");
            }

            // With peers, nodes at other sites take the copies this edge's nodes cannot hold: how many there are is
            // learnt at run time.
            var spansSites = options.Peers.Any(p => p.Clusters.Contains(cluster.Name, StringComparer.OrdinalIgnoreCase));
            if (cluster.Copies is { } copies && (copies < 1 || (copies > cluster.Nodes.Count && !spansSites)))
            {
                errors.Add($"{at}: Copies {copies} must be between 1 and the number of nodes ({cluster.Nodes.Count}); more only when Peers serve the cluster too");
            }

            if (cluster.TimestampSkewMargin < TimeSpan.Zero)
            {
                errors.Add($"{at}: TimestampSkewMargin must not be negative");
            }
        }
    }

    private static void ValidatePeers(AnnexEdgeOptions options, Dictionary<string, int> repositoryNames, Dictionary<string, int> repositoryUuids, List<string> errors)
    {
        const string prefix = AnnexEdgeOptions.SectionName;
        // With clusters, their own check says it already.
        if (options.Peers.Count > 0 && options.Uuid is null && options.Clusters.Count == 0)
        {
            errors.Add($"{prefix}:Uuid is missing: an edge with Peers needs its own gateway UUID (peers know it by it, and forwarded requests carry it in bypass)");
        }

        var clusterNames = options.Clusters.Select(c => c.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var clusterUuids = options.Clusters.Select(c => c.Uuid).ToHashSet(StringComparer.Ordinal);
        var names = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var uuids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < options.Peers.Count; i++)
        {
            var peer = options.Peers[i];
            var at = $"{prefix}:Peers[{i}]" + (string.IsNullOrWhiteSpace(peer.Name) ? "" : $" ({peer.Name})");
            if (string.IsNullOrWhiteSpace(peer.Name) || !NamePattern().IsMatch(peer.Name))
            {
                errors.Add($"{at}: Name is missing or holds characters other than letters, digits, '.', '_' and '-'");
            }
            else if (names.TryGetValue(peer.Name, out var first))
            {
                errors.Add($"{at}: Name \"{peer.Name}\" is already used by {prefix}:Peers[{first}]");
            }
            else if (repositoryNames.ContainsKey(peer.Name) || clusterNames.Contains(peer.Name))
            {
                errors.Add($"{at}: Name \"{peer.Name}\" is already the name of a repository or cluster (permissions and logs name peers by it)");
            }
            else
            {
                names[peer.Name] = i;
            }

            if (!IsUuid(peer.Uuid))
            {
                errors.Add($"{at}: Uuid \"{peer.Uuid}\" is not a UUID: give the peer's gateway UUID (its AnnexEdge:Uuid, or its gateway repository's annex.uuid)");
            }
            else if (uuids.TryGetValue(peer.Uuid, out var first))
            {
                errors.Add($"{at}: Uuid {peer.Uuid} is already used by {prefix}:Peers[{first}]");
            }
            else if (repositoryUuids.ContainsKey(peer.Uuid) || clusterUuids.Contains(peer.Uuid) || peer.Uuid == options.Uuid)
            {
                errors.Add($"{at}: Uuid {peer.Uuid} is already the UUID of a repository, a cluster or this edge: a peer is another gateway, with its own UUID");
            }
            else
            {
                uuids[peer.Uuid] = i;
            }

            if (peer.Backends.Count == 0)
            {
                errors.Add($"{at}: Backends is empty: give the peer's base URL, e.g. https://edge2.example.org");
            }

            for (var b = 0; b < peer.Backends.Count; b++)
            {
                if (!TryParseBackend(peer.Backends[b], out var problem))
                {
                    errors.Add($"{at}: Backends[{b}] \"{peer.Backends[b]}\" {problem}");
                }
            }

            if (!double.IsFinite(peer.LinkCost) || peer.LinkCost < 0)
            {
                errors.Add($"{at}: LinkCost {peer.LinkCost} must be a number of 0 or more");
            }

            if (peer.MaxLocks < 0)
            {
                errors.Add($"{at}: MaxLocks {peer.MaxLocks} must be 0 or more");
            }

            if (peer.Clusters.Count == 0)
            {
                errors.Add($"{at}: Clusters is empty: list the Names of this edge's clusters that the peer also serves");
            }

            foreach (var cluster in peer.Clusters.Where(c => !clusterNames.Contains(c)))
            {
                errors.Add($"{at}: cluster \"{cluster}\" is not the Name of any cluster in {prefix}:Clusters");
            }

            foreach (var node in peer.Nodes ?? [])
            {
                if (!IsUuid(node))
                {
                    errors.Add($"{at}: Nodes entry \"{node}\" is not a UUID (give the annex.uuid of each node behind the peer)");
                }
                else if (repositoryUuids.ContainsKey(node))
                {
                    errors.Add($"{at}: node {node} is a repository of this edge: it is reached directly, never through a peer");
                }
            }

            if (peer.Nodes is { Count: 0 })
            {
                errors.Add($"{at}: Nodes is empty: list the node UUIDs behind a git-annex gateway, or leave Nodes out for an AnnexEdge peer (its routes are fetched)");
            }

            if (peer.BackendUser is null != peer.BackendPassword is null)
            {
                errors.Add($"{at}: BackendUser and BackendPassword go together");
            }
            else if (peer.BackendUser is { } user && (user.Length == 0 || user.Contains(':', StringComparison.Ordinal)))
            {
                errors.Add($"{at}: BackendUser must be non-empty and hold no ':'");
            }
        }

        var routing = options.Routing;
        if (routing.RefreshInterval <= TimeSpan.Zero)
        {
            errors.Add($"{prefix}:Routing:RefreshInterval {routing.RefreshInterval} must be a positive duration (e.g. \"00:00:30\")");
        }
        else if (routing.MaxRouteAge <= routing.RefreshInterval)
        {
            errors.Add($"{prefix}:Routing:MaxRouteAge {routing.MaxRouteAge} must be longer than RefreshInterval {routing.RefreshInterval}, or every route would expire between two fetches");
        }

        if (routing.MaxHops is < 1 or > 255)
        {
            errors.Add($"{prefix}:Routing:MaxHops {routing.MaxHops} must be between 1 and 255 (16 bounds count-to-infinity quickly)");
        }

        if (routing.LinkFailures < 1)
        {
            errors.Add($"{prefix}:Routing:LinkFailures {routing.LinkFailures} must be 1 or more");
        }
    }

    private static bool IsPlainHttpUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
        && string.IsNullOrEmpty(uri.Query) && string.IsNullOrEmpty(uri.Fragment) && string.IsNullOrEmpty(uri.UserInfo);

    private static bool TryParseBackend(string backend, out string problem)
    {
        if (!Uri.TryCreate(backend, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            problem = "is not an absolute http:// or https:// URL";
            return false;
        }

        if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo))
        {
            problem = "must not hold a query, fragment or user info";
            return false;
        }

        if (uri.AbsolutePath.Contains("/git-annex", StringComparison.Ordinal))
        {
            problem = "must be the server's base URL: the edge appends /git-annex/{uuid}/... itself";
            return false;
        }

        problem = "";
        return true;
    }

    /// <summary>Whether a file of that name is in a directory of <paramref name="path"/> (PATH), where a process start looks for it.</summary>
    internal static bool IsOnPath(string program, string? path) =>
        (path ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(d => File.Exists(Path.Combine(d, program)));

    private static bool IsTokenKey(string key)
    {
        var buffer = new byte[key.Length];
        return Convert.TryFromBase64String(key, buffer, out var written) && written >= 32;
    }

    private static void ValidateDirectories(AnnexEdgeOptions options, List<string> errors)
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Directories.Count; i++)
        {
            var directory = options.Directories[i];
            var at = $"{AnnexEdgeOptions.SectionName}:Directories[{i}]";
            if (!Path.IsPathFullyQualified(directory.Path) || !Directory.Exists(directory.Path))
            {
                errors.Add($"{at}: Path \"{directory.Path}\" is not an absolute path of an existing directory");
            }
            else if (!paths.Add(Path.TrimEndingDirectorySeparator(directory.Path)))
            {
                errors.Add($"{at}: Path \"{directory.Path}\" is listed twice");
            }

            if (directory.Manage && directory.Backends.Count > 0)
            {
                errors.Add($"{at}: Manage and Backends are both set: with Manage the edge runs the directory's p2phttp itself, so remove Backends (or set Manage to false to use the servers listed)");
            }
            else if (directory.Manage && !IsOnPath("git-annex", Environment.GetEnvironmentVariable("PATH")))
            {
                errors.Add($"{at}: Manage needs git-annex, which is not on the edge's PATH ({Environment.GetEnvironmentVariable("PATH")}): install git-annex or put its directory on PATH");
            }
            else if (directory.Manage && !IsOnPath("setsid", Environment.GetEnvironmentVariable("PATH")))
            {
                // p2phttp is started through it, in a process group of its own that can be ended as one if the edge is killed.
                errors.Add($"{at}: Manage needs setsid (util-linux, or busybox), which is not on the edge's PATH ({Environment.GetEnvironmentVariable("PATH")}): install it or put its directory on PATH");
            }
            else if (!directory.Manage && directory.Backends.Count == 0)
            {
                errors.Add($"{at}: Backends is empty: give the base URL of at least one `git annex p2phttp --directory {directory.Path}` server, or set Manage to true to have the edge run one");
            }

            if (directory.DrainTimeout < TimeSpan.Zero)
            {
                errors.Add($"{at}: DrainTimeout {directory.DrainTimeout} must not be negative");
            }

            for (var b = 0; b < directory.Backends.Count; b++)
            {
                if (!TryParseBackend(directory.Backends[b], out var problem))
                {
                    errors.Add($"{at}: Backends[{b}] \"{directory.Backends[b]}\" {problem}");
                }
            }

            if (directory.Jobs < 2)
            {
                errors.Add($"{at}: Jobs {directory.Jobs} must be 2 or more, as git annex p2phttp --jobs needs");
            }

            if (directory.RescanInterval < TimeSpan.FromMilliseconds(100))
            {
                errors.Add($"{at}: RescanInterval {directory.RescanInterval} must be at least 00:00:00.1");
            }
        }
    }

    /// <summary>Whether a name may be a repository's: letters, digits, '.', '_' and '-'.</summary>
    public static bool IsName(string name) => NamePattern().IsMatch(name);

    // \z, not $: $ also matches before a final newline.
    [GeneratedRegex(@"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\z")]
    private static partial Regex UuidPattern();

    [GeneratedRegex(@"^[A-Za-z0-9._-]+\z")]
    private static partial Regex NamePattern();
}
