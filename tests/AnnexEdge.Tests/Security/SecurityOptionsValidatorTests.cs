using AnnexEdge.Configuration;
using AnnexEdge.Security;

namespace AnnexEdge.Tests.Security;

public sealed class SecurityOptionsValidatorTests
{
    private static readonly string Hash = PasswordHash.Create("pw", PasswordHash.MinimumIterations);

    private static AnnexEdgeOptions Valid() => new()
    {
        Repositories = [new RepositoryOptions { Name = "node1", Uuid = "02e4e223-0b39-48fc-a031-e5a73d74ae92", Backends = ["http://127.0.0.1:9417"] }],
        Users = [new UserOptions { Name = "alice", PasswordHash = Hash, Access = new() { ["*"] = "readonly", ["node1"] = "full" } }],
        Anonymous = new() { ["*"] = "none" },
    };

    private static string SingleError(AnnexEdgeOptions options) => Assert.Single(AnnexEdgeOptionsValidator.Errors(options));

    [Fact]
    public void Users_anonymous_access_and_backend_credentials_can_be_valid()
    {
        var options = Valid();
        options.Repositories[0].BackendUser = "edge";
        options.Repositories[0].BackendPassword = "x";
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
    }

    [Fact]
    public void A_user_may_have_the_metrics_role_and_an_unknown_role_is_named()
    {
        var options = Valid();
        options.Users[0].Roles = ["metrics"];
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));

        options.Users[0].Roles = ["metrics", "admin"];
        Assert.Equal("AnnexEdge:Users[0] (alice):Roles: \"admin\" is not a role; the roles are: metrics", SingleError(options));
    }

    [Fact]
    public void An_unknown_target_name_is_named()
    {
        var options = Valid();
        options.Anonymous!["node2"] = "readonly";
        Assert.Contains("Anonymous: \"node2\" is not the Name", SingleError(options));
    }

    [Fact]
    public void An_unknown_access_level_is_named()
    {
        var options = Valid();
        options.Users[0].Access["node1"] = "write";
        Assert.Contains("Users[0] (alice):Access: \"write\"", SingleError(options));
    }

    [Theory]
    [InlineData("secret")]
    [InlineData("pbkdf2-sha256$1000$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==")]
    public void Plain_or_weak_password_hashes_are_refused(string passwordHash)
    {
        var options = Valid();
        options.Users[0].PasswordHash = passwordHash;
        Assert.Contains("PasswordHash", SingleError(options));
    }

    [Fact]
    public void User_names_must_be_unique_and_free_of_colons()
    {
        var options = Valid();
        options.Users.Add(new UserOptions { Name = "alice", PasswordHash = Hash });
        options.Users.Add(new UserOptions { Name = "a:b", PasswordHash = Hash });
        var errors = AnnexEdgeOptionsValidator.Errors(options);
        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.Contains("already used"));
        Assert.Contains(errors, e => e.Contains("':'"));
    }

    [Fact]
    public void Backend_user_without_password_or_with_client_forwarding_is_refused()
    {
        var options = Valid();
        options.Repositories[0].BackendUser = "edge";
        Assert.Contains("go together", SingleError(options));

        options.Repositories[0].BackendPassword = "x";
        options.Repositories[0].ForwardClientAuthorization = true;
        Assert.Contains("exclude each other", SingleError(options));
    }

    [Fact]
    public void Negative_limits_are_refused()
    {
        var options = Valid();
        options.Limits.RequestsPerSecondPerIp = -1;
        Assert.Contains("Limits", SingleError(options));
    }

    [Theory]
    [InlineData(0, 0, 0, "PasswordChecksPerIp")]
    [InlineData(2, -1, 0, "ConcurrentPasswordChecks")]
    [InlineData(2, 0, -1, "login limits")]
    public void Password_check_limits_out_of_range_are_named(int perIp, int concurrent, int failedChecks, string named)
    {
        var options = Valid();
        options.Limits.PasswordChecksPerIp = perIp;
        options.Limits.ConcurrentPasswordChecks = concurrent;
        options.Limits.FailedPasswordChecksPerMinutePerIp = failedChecks;
        Assert.Contains(named, SingleError(options));
    }

    [Fact]
    public void A_negative_connection_limit_per_address_is_refused()
    {
        var options = Valid();
        options.Limits.MaxConnectionsPerIp = -1;
        Assert.Contains("Limits", SingleError(options));
    }

    [Fact]
    public void A_trusted_proxy_that_is_no_address_or_network_is_named()
    {
        var options = Valid();
        options.Limits.TrustedProxies = ["10.0.0.0/8", "10.0.0.1/8"];
        Assert.Contains("TrustedProxies: \"10.0.0.1/8\" is not an address or a network", SingleError(options));
    }

    [Fact]
    public void Proxy_protocol_without_trusted_proxies_is_refused()
    {
        var options = Valid();
        options.Limits.ProxyProtocol = true;
        Assert.Contains("ProxyProtocol is true but TrustedProxies is empty", SingleError(options));
        options.Limits.TrustedProxies = ["192.0.2.10"];
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
    }
}
