using AnnexEdge.Configuration;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using AnnexEdge.Security;

namespace AnnexEdge.Tests.Security;

public sealed class AccessPolicyTests
{
    private const string RepoUuid = "02e4e223-0b39-48fc-a031-e5a73d74ae92";
    private const string ClusterUuid = "ac0aa8a6-0f7e-8f6b-9e2f-5a3b1c2d3e4f";
    private const string GatewayUuid = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

    /// <summary>Status codes measured on <c>git annex p2phttp --authenv-http</c> (10.20250416) for these users.</summary>
    public static int P2pHttpStatus(string principal, P2pEndpoint endpoint) => (principal, endpoint.Action()) switch
    {
        ("anonymous" or "wrongpassword", _) => 401,
        ("readonly", P2pAction.Read) => 200,
        ("readonly", _) => 403,
        ("appendonly", P2pAction.Remove) => 403,
        ("appendonly", _) => 200,
        ("full", _) => 200,
        _ => throw new ArgumentOutOfRangeException(nameof(principal)),
    };

    public static TheoryData<string, P2pEndpoint, string> Matrix()
    {
        var data = new TheoryData<string, P2pEndpoint, string>();
        foreach (var principal in new[] { "anonymous", "readonly", "appendonly", "full", "wrongpassword" })
        {
            foreach (var endpoint in Enum.GetValues<P2pEndpoint>())
            {
                foreach (var target in new[] { "repository", "cluster" })
                {
                    data.Add(principal, endpoint, target);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public void Decision_matches_p2phttp_for_every_user_kind_endpoint_and_target(string principal, P2pEndpoint endpoint, string targetKind)
    {
        var options = new AnnexEdgeOptions
        {
            Uuid = GatewayUuid,
            Repositories = [new RepositoryOptions { Name = "node1", Uuid = RepoUuid, Backends = ["http://127.0.0.1:1"] }],
            Clusters = [new ClusterOptions { Name = "mycluster", Uuid = ClusterUuid, Nodes = ["node1"] }],
            Users =
            [
                new UserOptions { Name = "readonly", Access = new() { ["*"] = "readonly" } },
                new UserOptions { Name = "appendonly", Access = new() { ["*"] = "appendonly" } },
                new UserOptions { Name = "full", Access = new() { ["*"] = "full" } },
            ],
        };
        var policy = new AccessPolicy(options);
        var catalog = new RepositoryCatalog(options);
        var target = targetKind == "cluster"
            ? AccessTarget.Of("mycluster")
            : AccessPolicy.TargetOf(catalog.Current, catalog.Repositories[0]);
        var (state, level) = principal switch
        {
            "anonymous" => (CredentialState.Absent, policy.AnonymousLevel(target)),
            "wrongpassword" => (CredentialState.Invalid, AccessLevel.None),
            _ => (CredentialState.Valid, policy.UserLevel(principal, target)),
        };

        var decision = AccessPolicy.Decide(state, level, endpoint.Action(), policy.AnonymousLocking, canAuthenticate: true);

        Assert.Equal(P2pHttpStatus(principal, endpoint), StatusOf(decision));
    }

    [Theory]
    [InlineData("readonly", true, "Read", true)]
    [InlineData("readonly", true, "Lock", true)]
    [InlineData("readonly", false, "Lock", false)]
    [InlineData("readonly", true, "Write", false)]
    [InlineData("appendonly", true, "Lock", true)]
    [InlineData("appendonly", false, "Lock", false)]
    [InlineData("appendonly", true, "Write", true)]
    [InlineData("appendonly", true, "Remove", false)]
    [InlineData("full", false, "Lock", true)]
    [InlineData("full", true, "Remove", true)]
    [InlineData("none", true, "Read", false)]
    public void Anonymous_clients_get_p2phttps_unauth_modes(string level, bool anonymousLocking, string actionName, bool allowed)
    {
        var action = Enum.Parse<P2pAction>(actionName);
        Assert.True(AccessLevels.TryParse(level, out var parsed));
        Assert.Equal(allowed, AccessPolicy.Permits(parsed, action, isUser: false, anonymousLocking));
    }

    [Fact]
    public void A_readonly_user_may_not_lock_even_where_anonymous_clients_may()
    {
        Assert.True(AccessPolicy.Permits(AccessLevel.ReadOnly, P2pAction.Lock, isUser: false, anonymousLocking: true));
        Assert.False(AccessPolicy.Permits(AccessLevel.ReadOnly, P2pAction.Lock, isUser: true, anonymousLocking: true));
    }

    [Fact]
    public void A_refused_anonymous_client_gets_403_when_credentials_cannot_help()
    {
        Assert.Equal(AccessDecision.NeedCredentials, AccessPolicy.Decide(CredentialState.Absent, AccessLevel.ReadOnly, P2pAction.Write, true, canAuthenticate: true));
        Assert.Equal(AccessDecision.Forbidden, AccessPolicy.Decide(CredentialState.Absent, AccessLevel.ReadOnly, P2pAction.Write, true, canAuthenticate: false));
    }

    [Fact]
    public void Credentials_over_plain_http_and_throttled_logins_are_refused_whatever_the_access()
    {
        Assert.Equal(AccessDecision.CredentialsNeedHttps, AccessPolicy.Decide(CredentialState.RefusedOverHttp, AccessLevel.Full, P2pAction.Read, true, true));
        Assert.Equal(AccessDecision.TooManyFailedLogins, AccessPolicy.Decide(CredentialState.Throttled, AccessLevel.Full, P2pAction.Read, true, true));
    }

    [Fact]
    public void Missing_anonymous_section_means_none_everywhere()
    {
        var policy = new AccessPolicy(new AnnexEdgeOptions());
        Assert.Equal(AccessLevel.None, policy.AnonymousLevel(AccessTarget.Of("anything")));
        Assert.False(policy.HasUsers);
    }

    [Fact]
    public void Own_entry_beats_cluster_entry_which_beats_the_wildcard()
    {
        var policy = new AccessPolicy(new AnnexEdgeOptions
        {
            Anonymous = new() { ["*"] = "readonly", ["c1"] = "appendonly", ["c2"] = "full", ["pinned"] = "none" },
        });

        Assert.Equal(AccessLevel.ReadOnly, policy.AnonymousLevel(AccessTarget.Of("other")));
        Assert.Equal(AccessLevel.Full, policy.AnonymousLevel(new AccessTarget("node", ["c1", "c2"])));
        Assert.Equal(AccessLevel.AppendOnly, policy.AnonymousLevel(new AccessTarget("node", ["c1", "c3"])));
        Assert.Equal(AccessLevel.None, policy.AnonymousLevel(new AccessTarget("pinned", ["c2"])));
    }

    [Fact]
    public void A_user_is_scoped_per_cluster_and_gets_nothing_elsewhere_without_a_wildcard()
    {
        var policy = new AccessPolicy(new AnnexEdgeOptions
        {
            Users = [new UserOptions { Name = "alice", Access = new() { ["archive"] = "full", ["scratch"] = "readonly" } }],
        });

        Assert.Equal(AccessLevel.Full, policy.UserLevel("alice", AccessTarget.Of("ARCHIVE")));
        Assert.Equal(AccessLevel.ReadOnly, policy.UserLevel("alice", AccessTarget.Of("scratch")));
        Assert.Equal(AccessLevel.None, policy.UserLevel("alice", AccessTarget.Of("other")));
        Assert.Equal(AccessLevel.None, policy.UserLevel("bob", AccessTarget.Of("archive")));
    }

    [Fact]
    public void A_name_pattern_matches_like_a_shell_glob_case_insensitively()
    {
        var policy = new AccessPolicy(new AnnexEdgeOptions { Anonymous = new() { ["proj-*"] = "readonly", ["lab-?"] = "full" } });

        Assert.Equal(AccessLevel.ReadOnly, policy.AnonymousLevel(AccessTarget.Of("proj-one")));
        Assert.Equal(AccessLevel.ReadOnly, policy.AnonymousLevel(AccessTarget.Of("PROJ-two")));
        Assert.Equal(AccessLevel.None, policy.AnonymousLevel(AccessTarget.Of("myproj-one")));
        Assert.Equal(AccessLevel.Full, policy.AnonymousLevel(AccessTarget.Of("lab-a")));
        Assert.Equal(AccessLevel.None, policy.AnonymousLevel(AccessTarget.Of("lab-ab")));
        Assert.Equal(AccessLevel.None, policy.AnonymousLevel(AccessTarget.Of("lab.a")));
    }

    [Fact]
    public void Exact_name_beats_the_longest_pattern_which_beats_shorter_ones_clusters_and_the_wildcard()
    {
        var policy = new AccessPolicy(new AnnexEdgeOptions
        {
            Users =
            [
                new UserOptions
                {
                    Name = "alice",
                    Access = new()
                    {
                        ["*"] = "full", ["c1"] = "full", ["proj-*"] = "readonly", ["proj-secret-*"] = "none", ["proj-secret-1"] = "appendonly",
                        ["x?"] = "full", ["?y"] = "readonly",
                    },
                },
            ],
        });

        Assert.Equal(AccessLevel.AppendOnly, policy.UserLevel("alice", AccessTarget.Of("proj-secret-1")));
        Assert.Equal(AccessLevel.None, policy.UserLevel("alice", AccessTarget.Of("proj-secret-2")));
        Assert.Equal(AccessLevel.ReadOnly, policy.UserLevel("alice", new AccessTarget("proj-a", ["c1"])));
        Assert.Equal(AccessLevel.Full, policy.UserLevel("alice", AccessTarget.Of("other")));
        // Equally long patterns: the lower access.
        Assert.Equal(AccessLevel.ReadOnly, policy.UserLevel("alice", AccessTarget.Of("xy")));
    }

    [Fact]
    public void A_pattern_is_a_valid_access_key_though_it_names_no_configured_repository()
    {
        var options = new AnnexEdgeOptions { Anonymous = new() { ["proj-*"] = "readonly", ["nosuch"] = "readonly" } };

        var errors = AnnexEdgeOptionsValidator.Errors(options);

        Assert.DoesNotContain(errors, e => e.Contains("proj-*", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("\"nosuch\"", StringComparison.Ordinal));
    }

    private static int StatusOf(AccessDecision decision) => decision switch
    {
        AccessDecision.Allow => 200,
        AccessDecision.NeedCredentials => 401,
        AccessDecision.TooManyFailedLogins => 429,
        _ => 403,
    };
}
