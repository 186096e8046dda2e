using System.Collections.Frozen;
using System.Text.RegularExpressions;
using AnnexEdge.Configuration;
using AnnexEdge.Routing;

namespace AnnexEdge.Security;

/// <summary>
/// The permission model of <c>git annex p2phttp</c>, scoped per repository and cluster. A map entry for the
/// target's Name wins; then the longest name pattern (<c>proj-*</c>, <c>*</c> and <c>?</c> as in shell globs) that
/// matches it, the lower access among equally long ones; a node without either takes the highest entry among its
/// clusters (whoever may remove from a cluster removes from its nodes anyway); then <c>*</c>; then <c>none</c>.
/// </summary>
internal sealed class AccessPolicy
{
    public const string Wildcard = "*";

    private readonly AccessMap _anonymous;
    private readonly FrozenDictionary<string, AccessMap> _users;

    public AccessPolicy(AnnexEdgeOptions options)
    {
        _anonymous = ToLevels(options.Anonymous);
        _users = options.Users.ToFrozenDictionary(u => u.Name, u => ToLevels(u.Access), StringComparer.Ordinal);
        AnonymousLocking = options.AnonymousLocking;
        AllowCredentialsOverHttp = options.AllowBasicAuthOverHttp;
    }

    public bool AnonymousLocking { get; }

    public bool AllowCredentialsOverHttp { get; }

    /// <summary>Whether any user is configured, i.e. whether asking for credentials can help at all.</summary>
    public bool HasUsers => _users.Count > 0;

    public AccessLevel AnonymousLevel(AccessTarget target) => Resolve(_anonymous, target);

    public AccessLevel UserLevel(string user, AccessTarget target) =>
        _users.TryGetValue(user, out var access) ? Resolve(access, target) : AccessLevel.None;

    /// <summary>
    /// The decision for one request, as p2phttp makes it (observed on git-annex 10.20250416): a known user gets
    /// only the user's own permissions (not merged with anonymous ones); a readonly user may not lock, while
    /// anonymous readonly/appendonly clients may unless <c>AnonymousLocking</c> is off. An anonymous refusal is
    /// 401 when credentials could help and 403 when they cannot (no users, or plain HTTP without opt-in).
    /// </summary>
    public static AccessDecision Decide(
        CredentialState credentials, AccessLevel level, P2pAction action, bool anonymousLocking, bool canAuthenticate) =>
        credentials switch
        {
            CredentialState.Valid => Permits(level, action, isUser: true, anonymousLocking) ? AccessDecision.Allow : AccessDecision.Forbidden,
            CredentialState.Absent when Permits(level, action, isUser: false, anonymousLocking) => AccessDecision.Allow,
            CredentialState.Absent => canAuthenticate ? AccessDecision.NeedCredentials : AccessDecision.Forbidden,
            CredentialState.RefusedOverHttp => AccessDecision.CredentialsNeedHttps,
            CredentialState.Throttled => AccessDecision.TooManyFailedLogins,
            CredentialState.Busy => AccessDecision.TooManyPasswordChecks,
            _ => AccessDecision.NeedCredentials,
        };

    public static bool Permits(AccessLevel level, P2pAction action, bool isUser, bool anonymousLocking) => action switch
    {
        P2pAction.Read => level >= AccessLevel.ReadOnly,
        // p2phttp: users lock from appendonly up; anonymous clients from readonly up unless --unauth-nolocking
        // (which --wideopen ignores).
        P2pAction.Lock => isUser
            ? level >= AccessLevel.AppendOnly
            : level == AccessLevel.Full || (level >= AccessLevel.ReadOnly && anonymousLocking),
        P2pAction.Write => level >= AccessLevel.AppendOnly,
        P2pAction.Remove => level == AccessLevel.Full,
        _ => false,
    };

    /// <summary>What permissions name: a cluster or repository by its Name (a repository also by its clusters), the gateway by its UUID.</summary>
    public static AccessTarget TargetOf(CatalogSnapshot catalog, Target target) => target switch
    {
        Repository repository => TargetOf(catalog, repository),
        Gateway gateway => AccessTarget.Of(gateway.Uuid),
        _ => AccessTarget.Of(target.Name),
    };

    public static AccessTarget TargetOf(CatalogSnapshot catalog, Repository repository) =>
        repository.Via is { } peer
            // A node behind a peer: named by the peer, and a node of the clusters the peer shares with this edge.
            ? new(peer.Name, peer.Clusters)
            : new(repository.Name, catalog.Clusters.Where(c => c.Nodes.Contains(repository)).Select(c => c.Name).ToArray());

    /// <summary>Whether an access map key is a name pattern (other than the wildcard <c>*</c> alone).</summary>
    public static bool IsPattern(string key) => key != Wildcard && key.AsSpan().IndexOfAny('*', '?') >= 0;

    private static AccessLevel Resolve(AccessMap access, AccessTarget target)
    {
        var map = access.Names;
        if (map.TryGetValue(target.Name, out var own))
        {
            return own;
        }

        foreach (var (pattern, matched) in access.Patterns)
        {
            if (pattern.IsMatch(target.Name))
            {
                return matched;
            }
        }

        var viaCluster = target.Clusters
            .Select(c => map.TryGetValue(c, out var l) ? l : (AccessLevel?)null)
            .Where(l => l is not null)
            .Max();
        if (viaCluster is { } level)
        {
            return level;
        }

        return map.GetValueOrDefault(Wildcard, AccessLevel.None);
    }

    private static AccessMap ToLevels(Dictionary<string, string>? map)
    {
        var levels = (map ?? []).Select(e => (e.Key, Level: AccessLevels.TryParse(e.Value, out var level) ? level : AccessLevel.None)).ToArray();
        var names = levels.Where(e => !IsPattern(e.Key)).ToFrozenDictionary(e => e.Key, e => e.Level, StringComparer.OrdinalIgnoreCase);
        var patterns = levels.Where(e => IsPattern(e.Key))
            .OrderByDescending(e => e.Key.Length).ThenBy(e => e.Level)
            .Select(e => (Glob(e.Key), e.Level))
            .ToArray();
        return new AccessMap(names, patterns);
    }

    // Names compare case-insensitively everywhere, so patterns do too.
    private static Regex Glob(string pattern) => new(
        "^" + Regex.Escape(pattern).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal) + "$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);

    /// <summary>One access map: entries by exact name, and name patterns in the order they are tried.</summary>
    private sealed record AccessMap(FrozenDictionary<string, AccessLevel> Names, IReadOnlyList<(Regex Pattern, AccessLevel Level)> Patterns);
}

internal enum CredentialState
{
    /// <summary>No Authorization header.</summary>
    Absent,

    /// <summary>A configured user with the right password.</summary>
    Valid,

    /// <summary>Malformed, unknown user or wrong password.</summary>
    Invalid,

    /// <summary>Sent over plain HTTP while <c>AllowBasicAuthOverHttp</c> is off; not checked.</summary>
    RefusedOverHttp,

    /// <summary>Too many failed logins from the client's address (for this user name, or in all); not checked.</summary>
    Throttled,

    /// <summary>The client's address already has its share of password checks running; not checked.</summary>
    Busy,
}
