using AnnexEdge.Configuration;
using AnnexEdge.Connections;

namespace AnnexEdge.Security;

/// <summary>Start-up checks of users, anonymous access, backend credentials and limits; one actionable line each.</summary>
internal static class SecurityOptionsValidator
{
    public static void Validate(AnnexEdgeOptions options, List<string> errors)
    {
        const string prefix = AnnexEdgeOptions.SectionName;
        var targets = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { AccessPolicy.Wildcard };
        targets.UnionWith(options.Repositories.Select(r => r.Name));
        targets.UnionWith(options.Clusters.Select(c => c.Name));
        if (options.Uuid is { } gateway)
        {
            targets.Add(gateway);
        }

        if (options.Anonymous is { } anonymous)
        {
            ValidateAccessMap(anonymous, $"{prefix}:Anonymous", targets, errors);
        }

        var users = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < options.Users.Count; i++)
        {
            var user = options.Users[i];
            var at = $"{prefix}:Users[{i}]" + (string.IsNullOrWhiteSpace(user.Name) ? "" : $" ({user.Name})");
            if (string.IsNullOrWhiteSpace(user.Name) || user.Name.Contains(':', StringComparison.Ordinal) || user.Name.Any(char.IsControl))
            {
                errors.Add($"{at}: Name is missing or holds a ':' or a control character (HTTP Basic auth cannot carry it)");
            }
            else if (users.TryGetValue(user.Name, out var first))
            {
                errors.Add($"{at}: Name \"{user.Name}\" is already used by {prefix}:Users[{first}]");
            }
            else
            {
                users[user.Name] = i;
            }

            if (!PasswordHash.TryParse(user.PasswordHash, out var hash))
            {
                errors.Add($"{at}: PasswordHash is not a {PasswordHash.Scheme} hash; make one with: AnnexEdge hash-password < password-file");
            }
            else if (hash!.Iterations < PasswordHash.MinimumIterations)
            {
                errors.Add($"{at}: PasswordHash uses {hash.Iterations} iterations; at least {PasswordHash.MinimumIterations} are needed (AnnexEdge hash-password uses {PasswordHash.DefaultIterations})");
            }

            ValidateAccessMap(user.Access, $"{at}:Access", targets, errors);
            foreach (var role in user.Roles.Where(r => !UserOptions.KnownRoles.Contains(r)))
            {
                errors.Add($"{at}:Roles: \"{role}\" is not a role; the roles are: {string.Join(", ", UserOptions.KnownRoles)}");
            }
        }

        for (var i = 0; i < options.Repositories.Count; i++)
        {
            var repo = options.Repositories[i];
            var at = $"{prefix}:Repositories[{i}] ({repo.Name})";
            if (repo.BackendUser is null != repo.BackendPassword is null)
            {
                errors.Add($"{at}: BackendUser and BackendPassword go together");
            }

            if (repo.BackendUser is { } backendUser && (backendUser.Length == 0 || backendUser.Contains(':', StringComparison.Ordinal)))
            {
                errors.Add($"{at}: BackendUser must be non-empty and hold no ':'");
            }

            if (repo.BackendUser is not null && repo.ForwardClientAuthorization)
            {
                errors.Add($"{at}: ForwardClientAuthorization and BackendUser exclude each other (the node would get one or the other)");
            }
        }

        var limits = options.Limits;
        if (limits.MaxConcurrentConnections < 0 || limits.RequestsPerSecondPerIp < 0 || limits.RequestBurstPerIp < 0
            || limits.ConcurrentRequestsPerIp < 0 || limits.FailedLoginsPerMinutePerIp < 0 || limits.FailedPasswordChecksPerMinutePerIp < 0
            || limits.MaxConnectionsPerIp < 0)
        {
            errors.Add($"{prefix}:Limits: connection, request and login limits must be 0 (off) or more");
        }

        if (limits.PasswordChecksPerIp < 1 || limits.ConcurrentPasswordChecks < 0)
        {
            errors.Add($"{prefix}:Limits: PasswordChecksPerIp must be 1 or more (2 lets a client check a second password while one runs); ConcurrentPasswordChecks 0 (one per core) or more");
        }

        if (limits.MaxRequestHeadersTotalSize < 1024 || limits.MaxRequestHeaderCount < 8 || limits.MaxRequestLineSize < 1024)
        {
            errors.Add($"{prefix}:Limits: MaxRequestHeadersTotalSize and MaxRequestLineSize must be 1024 or more, MaxRequestHeaderCount 8 or more (git-annex's requests need them)");
        }

        if (limits.RequestHeadersTimeout <= TimeSpan.Zero || limits.KeepAliveTimeout <= TimeSpan.Zero
            || limits.CredentialCacheDuration < TimeSpan.Zero || limits.HstsMaxAge < TimeSpan.Zero)
        {
            errors.Add($"{prefix}:Limits: RequestHeadersTimeout and KeepAliveTimeout must be positive; CredentialCacheDuration and HstsMaxAge 0 or more");
        }

        ValidateProxies(limits, $"{prefix}:Limits", errors);
    }

    private static void ValidateProxies(LimitsOptions limits, string at, List<string> errors)
    {
        foreach (var entry in limits.TrustedProxies)
        {
            if (!TrustedProxies.TryParse(entry, out _))
            {
                errors.Add($"{at}:TrustedProxies: \"{entry}\" is not an address or a network such as 10.0.0.0/8 (with no host bits set)");
            }
        }

        if (limits.ProxyProtocol && limits.TrustedProxies.Count == 0)
        {
            errors.Add($"{at}:ProxyProtocol is true but TrustedProxies is empty: list the proxies' addresses, or no connection can name its client");
        }
    }

    private static void ValidateAccessMap(Dictionary<string, string> map, string at, HashSet<string> targets, List<string> errors)
    {
        foreach (var (target, level) in map)
        {
            // A name pattern may match no repository yet: repositories of a directory come and go.
            if (!targets.Contains(target) && !AccessPolicy.IsPattern(target))
            {
                errors.Add($"{at}: \"{target}\" is not the Name of a repository or cluster, the edge's Uuid, a name pattern with * or ?, or \"*\"");
            }

            if (!AccessLevels.TryParse(level, out _))
            {
                errors.Add($"{at}: \"{level}\" for \"{target}\" is unknown; use none, readonly, appendonly or full");
            }
        }
    }
}
