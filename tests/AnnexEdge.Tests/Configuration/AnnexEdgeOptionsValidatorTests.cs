using AnnexEdge.Configuration;

namespace AnnexEdge.Tests.Configuration;

public sealed class AnnexEdgeOptionsValidatorTests
{
    private const string Uuid1 = "02e4e223-0b39-48fc-a031-e5a73d74ae92";
    private const string Uuid2 = "5f0e8c1a-2b3c-4d5e-8f9a-0b1c2d3e4f5a";
    private static readonly string TokenKey = Convert.ToBase64String(new byte[32]);

    private static AnnexEdgeOptions Valid() => new()
    {
        Uuid = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        Repositories =
        [
            new RepositoryOptions { Name = "node1", Uuid = Uuid1, Backends = ["http://127.0.0.1:9417", "https://replica.example:9417/"] },
            new RepositoryOptions { Name = "node2", Uuid = Uuid2, Backends = ["http://10.0.0.2:9417/annex"], LoadBalancing = "RoundRobin" },
        ],
        Locking = new LockingOptions { TokenKey = TokenKey },
    };

    private static string SingleError(AnnexEdgeOptions options)
    {
        var errors = AnnexEdgeOptionsValidator.Errors(options);
        return Assert.Single(errors);
    }

    [Fact]
    public void Valid_configuration_has_no_error()
    {
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(Valid()));
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("-00:00:01")]
    [InlineData("01:00:01")]
    public void A_grace_period_that_is_not_positive_or_over_an_hour_is_an_error(string gracePeriod)
    {
        var options = Valid();
        options.Shutdown.GracePeriod = TimeSpan.Parse(gracePeriod, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("AnnexEdge:Shutdown:GracePeriod", SingleError(options));
    }

    [Fact]
    public void Defaults_with_one_repository_are_valid()
    {
        var options = new AnnexEdgeOptions { Repositories = [new RepositoryOptions { Name = "r", Uuid = Uuid1, Backends = ["http://h:1"] }] };
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
    }

    [Fact]
    public void Every_load_balancing_policy_yarp_knows_is_accepted()
    {
        foreach (var policy in new[] { "PowerOfTwoChoices", "LeastRequests", "RoundRobin", "Random", "FirstAlphabetical" })
        {
            var options = Valid();
            options.Repositories[0].LoadBalancing = policy;
            Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
        }
    }

    [Fact]
    public void Failing_validation_lists_every_error()
    {
        var options = Valid();
        options.Repositories[0].Uuid = "bad";
        options.Repositories[1].Backends = [];
        Assert.Equal(2, AnnexEdgeOptionsValidator.Errors(options).Count);
    }

    [Fact]
    public void No_repository_is_an_error()
    {
        var options = Valid();
        options.Repositories = [];
        Assert.StartsWith("AnnexEdge:Repositories is empty", SingleError(options), StringComparison.Ordinal);
    }

    [Fact]
    public void Error_names_the_entry_by_index_and_name()
    {
        var options = Valid();
        options.Repositories[1].Uuid = "not-a-uuid";
        Assert.Equal(
            "AnnexEdge:Repositories[1] (node2): Uuid \"not-a-uuid\" is not a UUID (expected lowercase 8-4-4-4-12 hex, as in annex.uuid)",
            SingleError(options));
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void Missing_name_is_reported_by_index(string name)
    {
        var options = Valid();
        options.Repositories[1].Name = name;
        Assert.Equal("AnnexEdge:Repositories[1]: Name is missing", SingleError(options));
    }

    [Theory]
    [InlineData("node 2")]
    [InlineData("node/2")]
    [InlineData("nöde")]
    [InlineData("a:b")]
    [InlineData("node2\n")]
    public void Name_with_other_characters_is_refused(string name)
    {
        var options = Valid();
        options.Repositories[1].Name = name;
        Assert.Equal($"AnnexEdge:Repositories[1] ({name}): Name \"{name}\" may only hold letters, digits, '.', '_' and '-'", SingleError(options));
    }

    [Theory]
    [InlineData("node1")]
    [InlineData("NODE1")]
    [InlineData("Node1")]
    public void Duplicate_name_is_refused_whatever_its_case(string name)
    {
        var options = Valid();
        options.Repositories[1].Name = name;
        Assert.Equal($"AnnexEdge:Repositories[1] ({name}): Name \"{name}\" is already used by AnnexEdge:Repositories[0]", SingleError(options));
    }

    [Fact]
    public void Duplicate_uuid_is_refused()
    {
        var options = Valid();
        options.Repositories[1].Uuid = Uuid1;
        Assert.Equal($"AnnexEdge:Repositories[1] (node2): Uuid {Uuid1} is already used by AnnexEdge:Repositories[0]", SingleError(options));
    }

    [Fact]
    public void Repository_with_the_edge_uuid_is_refused()
    {
        var options = Valid();
        options.Uuid = Uuid2;
        Assert.Equal($"AnnexEdge:Repositories[1] (node2): Uuid {Uuid2} is the edge's own AnnexEdge:Uuid", SingleError(options));
    }

    [Theory]
    [InlineData("")]
    [InlineData("02E4E223-0B39-48FC-A031-E5A73D74AE92")]
    [InlineData("02e4e223-0b39-48fc-a031-e5a73d74ae9")]
    [InlineData("02e4e223-0b39-48fc-a031-e5a73d74ae922")]
    [InlineData("02e4e2230b3948fca031e5a73d74ae92")]
    [InlineData("{02e4e223-0b39-48fc-a031-e5a73d74ae92}")]
    [InlineData("02e4e223-0b39-48fc-a031-e5a73d74ae9g")]
    [InlineData(" 02e4e223-0b39-48fc-a031-e5a73d74ae92")]
    [InlineData("02e4e223-0b39-48fc-a031-e5a73d74ae92\n")]
    public void Malformed_repository_uuid_is_refused(string uuid)
    {
        var options = Valid();
        options.Repositories[0].Uuid = uuid;
        Assert.Equal(
            $"AnnexEdge:Repositories[0] (node1): Uuid \"{uuid}\" is not a UUID (expected lowercase 8-4-4-4-12 hex, as in annex.uuid)",
            SingleError(options));
    }

    [Fact]
    public void Malformed_edge_uuid_is_refused()
    {
        var options = Valid();
        options.Uuid = "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE";
        Assert.Equal(
            "AnnexEdge:Uuid \"AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE\" is not a UUID (expected lowercase 8-4-4-4-12 hex, as in annex.uuid)",
            SingleError(options));
    }

    [Theory]
    [InlineData("02e4e223-0b39-48fc-a031-e5a73d74ae92", true)]
    [InlineData("00000000-0000-0000-0000-000000000000", true)]
    [InlineData("02E4E223-0b39-48fc-a031-e5a73d74ae92", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void IsUuid_takes_lowercase_8_4_4_4_12_hex(string? value, bool expected)
    {
        Assert.Equal(expected, AnnexEdgeOptionsValidator.IsUuid(value));
    }

    [Fact]
    public void Empty_backends_are_refused()
    {
        var options = Valid();
        options.Repositories[1].Backends = [];
        Assert.StartsWith("AnnexEdge:Repositories[1] (node2): Backends is empty", SingleError(options), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:9417")]
    [InlineData("/relative/path")]
    [InlineData("relative")]
    [InlineData("")]
    [InlineData("ftp://127.0.0.1:9417")]
    [InlineData("annex+http://127.0.0.1:9417")]
    [InlineData("file:///srv/annex")]
    public void Backend_that_is_not_an_absolute_http_url_is_refused(string url)
    {
        var options = Valid();
        options.Repositories[1].Backends = ["http://ok:1", url];
        Assert.Equal($"AnnexEdge:Repositories[1] (node2): Backends[1] \"{url}\" is not an absolute http:// or https:// URL", SingleError(options));
    }

    [Theory]
    [InlineData("http://127.0.0.1:9417/?x=1")]
    [InlineData("http://127.0.0.1:9417/#frag")]
    [InlineData("http://user:pass@127.0.0.1:9417")]
    [InlineData("https://user@127.0.0.1:9417")]
    public void Backend_with_query_fragment_or_user_info_is_refused(string url)
    {
        var options = Valid();
        options.Repositories[0].Backends = [url];
        Assert.Equal($"AnnexEdge:Repositories[0] (node1): Backends[0] \"{url}\" must not hold a query, fragment or user info", SingleError(options));
    }

    [Theory]
    [InlineData("http://127.0.0.1:9417/git-annex")]
    [InlineData("http://127.0.0.1:9417/git-annex/")]
    [InlineData("http://127.0.0.1:9417/git-annex/" + Uuid1)]
    [InlineData("http://127.0.0.1:9417/prefix/git-annex/")]
    public void Backend_path_holding_git_annex_is_refused(string url)
    {
        var options = Valid();
        options.Repositories[0].Backends = [url];
        Assert.Equal(
            $"AnnexEdge:Repositories[0] (node1): Backends[0] \"{url}\" must be the server's base URL: the edge appends /git-annex/{{uuid}}/... itself",
            SingleError(options));
    }

    [Theory]
    [InlineData("http://127.0.0.1:9417", "http://127.0.0.1:9417/")]
    [InlineData("http://127.0.0.1:9417", "HTTP://127.0.0.1:9417")]
    [InlineData("http://h:1/a/", "http://h:1/a")]
    public void Backend_listed_twice_is_refused(string first, string second)
    {
        var options = Valid();
        options.Repositories[0].Backends = [first, second];
        Assert.Equal($"AnnexEdge:Repositories[0] (node1): Backends[1] \"{second}\" is listed twice", SingleError(options));
    }

    [Fact]
    public void Same_backend_in_two_repositories_is_allowed()
    {
        var options = Valid();
        options.Repositories[1].Backends = [options.Repositories[0].Backends[0]];
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
    }

    [Fact]
    public void Unknown_load_balancing_is_refused()
    {
        var options = Valid();
        options.Repositories[1].LoadBalancing = "roundrobin";
        Assert.StartsWith("AnnexEdge:Repositories[1] (node2): LoadBalancing \"roundrobin\" is unknown; use one of PowerOfTwoChoices", SingleError(options), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not base64!")]
    [InlineData("AAAA")]
    public void Bad_token_key_is_refused(string key)
    {
        var options = Valid();
        options.Locking.TokenKey = key;
        Assert.StartsWith("AnnexEdge:Locking:TokenKey must be base64 of 32 bytes or more", SingleError(options), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void Share_of_slots_outside_0_to_1_is_refused(double share)
    {
        var options = Valid();
        options.Locking.MaxShareOfSlots = share;
        Assert.StartsWith("AnnexEdge:Locking:MaxShareOfSlots", SingleError(options), StringComparison.Ordinal);
    }

    [Fact]
    public void Negative_slots_reserved_for_users_are_refused_and_none_or_all_accepted()
    {
        var options = Valid();
        options.Locking.ReservedForUsers = -1;
        Assert.StartsWith("AnnexEdge:Locking:ReservedForUsers", SingleError(options), StringComparison.Ordinal);
        options.Locking.ReservedForUsers = 0;
        options.Locking.MaxShareOfSlots = 1;
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
        options.Locking.ReservedForUsers = 100;
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
    }

    [Fact]
    public void Token_key_of_31_bytes_is_refused_and_of_32_or_more_accepted()
    {
        var options = Valid();
        options.Locking.TokenKey = Convert.ToBase64String(new byte[31]);
        Assert.Single(AnnexEdgeOptionsValidator.Errors(options));
        options.Locking.TokenKey = Convert.ToBase64String(new byte[32]);
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
        options.Locking.TokenKey = Convert.ToBase64String(new byte[64]);
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
    }

    [Fact]
    public void Missing_token_key_is_allowed()
    {
        var options = Valid();
        options.Locking.TokenKey = null;
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
    }

    [Theory]
    [InlineData("Interval", 0)]
    [InlineData("Timeout", -1)]
    [InlineData("ReactivationPeriod", 0)]
    public void Non_positive_health_duration_is_refused(string setting, int seconds)
    {
        var options = Valid();
        var value = TimeSpan.FromSeconds(seconds);
        switch (setting)
        {
            case "Interval": options.HealthChecks.Interval = value; break;
            case "Timeout": options.HealthChecks.Timeout = value; break;
            default: options.HealthChecks.ReactivationPeriod = value; break;
        }

        Assert.StartsWith("AnnexEdge:HealthChecks: Interval, Timeout and ReactivationPeriod must be positive durations", SingleError(options), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Failure_threshold_below_one_is_refused(int threshold)
    {
        var options = Valid();
        options.HealthChecks.FailureThreshold = threshold;
        Assert.Equal("AnnexEdge:HealthChecks:FailureThreshold must be 1 or more", SingleError(options));
    }

    [Fact]
    public void Non_positive_forwarding_timeout_is_refused()
    {
        var options = Valid();
        options.Forwarding.ActivityTimeout = TimeSpan.Zero;
        Assert.Equal("AnnexEdge:Forwarding: ActivityTimeout, ConnectTimeout and NodeAnswerTimeout must be positive durations", SingleError(options));
        options = Valid();
        options.Forwarding.ConnectTimeout = TimeSpan.FromMilliseconds(-5);
        Assert.Equal("AnnexEdge:Forwarding: ActivityTimeout, ConnectTimeout and NodeAnswerTimeout must be positive durations", SingleError(options));
        options = Valid();
        options.Forwarding.NodeAnswerTimeout = TimeSpan.Zero;
        Assert.Equal("AnnexEdge:Forwarding: ActivityTimeout, ConnectTimeout and NodeAnswerTimeout must be positive durations", SingleError(options));
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("-00:00:01")]
    [InlineData("1.00:00:01")]
    public void Stall_timeout_that_is_not_a_positive_duration_of_at_most_a_day_is_refused(string value)
    {
        var options = Valid();
        options.Forwarding.StallTimeout = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(
            $"AnnexEdge:Forwarding:StallTimeout {options.Forwarding.StallTimeout} must be a positive duration of at most a day (e.g. \"00:00:20\")",
            SingleError(options));
    }

    [Theory]
    [InlineData("JSON")]
    [InlineData("xml")]
    [InlineData("")]
    public void Unknown_log_format_is_refused(string format)
    {
        var options = Valid();
        options.LogFormat = format;
        Assert.Equal($"AnnexEdge:LogFormat \"{format}\" is unknown; use text or json", SingleError(options));
    }

    [Fact]
    public void Json_log_format_is_accepted()
    {
        var options = Valid();
        options.LogFormat = "json";
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
    }

    [Theory]
    [InlineData("git-annex")]
    [InlineData("Git-Annex")]
    [InlineData("_annexedge")]
    [InlineData("_annexedge.git")]
    [InlineData("metrics")]
    [InlineData(".hidden")]
    public void A_git_served_name_that_is_a_path_of_the_edge_is_refused(string name)
    {
        var options = Valid();
        options.Repositories[0].Name = name;
        options.Repositories[0].GitDirectory = Path.GetTempPath();

        Assert.Contains("is a path of the edge's own", SingleError(options), StringComparison.Ordinal);
    }

    [Fact]
    public void Reserved_names_without_git_stay_valid()
    {
        var options = Valid();
        options.Repositories[0].Name = "metrics";
        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
    }

    [Fact]
    public void Names_served_at_the_same_git_path_are_refused()
    {
        var options = Valid();
        options.Repositories[0].Name = "proj";
        options.Repositories[0].GitDirectory = Path.GetTempPath();
        options.Repositories[1].Name = "proj.git";
        options.Repositories[1].GitUpstream = "https://forge.example/proj.git";

        Assert.Contains("same /proj and /proj.git", SingleError(options), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("relative/path", null)]
    [InlineData("/does/not/exist/at/all", null)]
    [InlineData(null, "ftp://forge.example/x")]
    [InlineData(null, "https://user:secret@forge.example/x")]
    [InlineData(null, "https://forge.example/x?y=1")]
    public void Bad_git_sources_are_refused(string? directory, string? upstream)
    {
        var options = Valid();
        options.Repositories[0].GitDirectory = directory;
        options.Repositories[0].GitUpstream = upstream;

        Assert.Contains("Repositories[0] (node1): Git", SingleError(options), StringComparison.Ordinal);
    }

    [Fact]
    public void Both_git_sources_at_once_are_refused()
    {
        var options = Valid();
        options.Repositories[0].GitDirectory = Path.GetTempPath();
        options.Repositories[0].GitUpstream = "https://forge.example/x.git";

        Assert.Contains("not both", SingleError(options), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://edge.example.org", true)]
    [InlineData("http://edge.example.org:8080/", true)]
    [InlineData("edge.example.org", false)]
    [InlineData("https://edge.example.org/prefix", false)]
    [InlineData("https://edge.example.org/?x", false)]
    [InlineData("ftp://edge.example.org", false)]
    public void Public_url_must_be_the_edge_root_over_http_or_https(string url, bool valid)
    {
        var options = Valid();
        options.PublicUrl = url;

        Assert.Equal(valid, AnnexEdgeOptionsValidator.Errors(options).Count == 0);
    }

    [Theory]
    [InlineData(0, "00:00:30")]
    [InlineData(4, "-00:00:01")]
    public void Git_backend_process_limit_must_be_positive_and_its_queue_timeout_not_negative(int max, string timeout)
    {
        var options = Valid();
        options.Git.MaxBackendProcesses = max;
        options.Git.BackendQueueTimeout = TimeSpan.Parse(timeout, System.Globalization.CultureInfo.InvariantCulture);

        Assert.Contains("MaxBackendProcesses", SingleError(options), StringComparison.Ordinal);
    }

    [Fact]
    public void A_managed_directory_needs_no_backends()
    {
        var options = Valid();
        options.Directories = [new DirectoryOptions { Path = Path.GetTempPath(), Manage = true }];

        Assert.Empty(AnnexEdgeOptionsValidator.Errors(options));
    }

    [Fact]
    public void A_managed_directory_with_backends_is_an_error()
    {
        var options = Valid();
        options.Directories = [new DirectoryOptions { Path = Path.GetTempPath(), Manage = true, Backends = ["http://127.0.0.1:9417"] }];

        Assert.StartsWith("AnnexEdge:Directories[0]: Manage and Backends are both set", SingleError(options), StringComparison.Ordinal);
    }

    [Fact]
    public void A_directory_neither_managed_nor_with_backends_is_an_error()
    {
        var options = Valid();
        options.Directories = [new DirectoryOptions { Path = Path.GetTempPath() }];

        Assert.StartsWith("AnnexEdge:Directories[0]: Backends is empty", SingleError(options), StringComparison.Ordinal);
    }

    [Fact]
    public void A_program_is_on_path_only_in_one_of_its_directories()
    {
        var dir = Directory.CreateTempSubdirectory("path").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "git-annex"), "");

            Assert.True(AnnexEdgeOptionsValidator.IsOnPath("git-annex", $"/nonexistent:{dir}"));
            Assert.False(AnnexEdgeOptionsValidator.IsOnPath("git-annex", "/nonexistent"));
            Assert.False(AnnexEdgeOptionsValidator.IsOnPath("git-annex", null));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
