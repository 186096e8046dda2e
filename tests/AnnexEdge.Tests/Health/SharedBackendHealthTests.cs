using AnnexEdge.Configuration;
using AnnexEdge.Directories;
using AnnexEdge.Health;
using AnnexEdge.Routing;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Tests.Health;

public sealed class SharedBackendHealthTests
{
    private const string UuidA = "0a000000-0000-4000-8000-00000000000a";
    private const string UuidB = "0b000000-0000-4000-8000-00000000000b";
    private const string UuidC = "0c000000-0000-4000-8000-00000000000c";
    private const string UuidD = "0d000000-0000-4000-8000-00000000000d";

    private static readonly Repository A = new("a", UuidA, [], "PowerOfTwoChoices");
    private static readonly Repository B = new("b", UuidB, [], "PowerOfTwoChoices");

    [Theory]
    [InlineData(200, true, "Up")]
    [InlineData(204, false, "Up")]
    [InlineData(null, true, "Down")]
    [InlineData(null, false, "Down")]
    [InlineData(404, true, "Down")]
    [InlineData(500, true, "Down")]
    [InlineData(404, false, "Stale")]
    public void A_failure_for_a_repository_removed_meanwhile_says_nothing_about_the_backend(int? status, bool stillServed, string expected)
    {
        Assert.Equal(Enum.Parse<ProbeVerdict>(expected), SharedBackendHealth.Judge(status, stillServed));
    }

    [Fact]
    public void A_backend_leaves_rotation_after_the_failure_threshold_and_comes_back_at_its_first_answer()
    {
        var health = new SharedBackendHealth();

        Assert.True(health.Report(ProbeVerdict.Up, failureThreshold: 2));
        Assert.Equal(DestinationHealth.Healthy, health.Decided);
        Assert.False(health.Report(ProbeVerdict.Down, 2));
        Assert.Equal(DestinationHealth.Healthy, health.Decided);
        Assert.True(health.Report(ProbeVerdict.Down, 2));
        Assert.Equal(DestinationHealth.Unhealthy, health.Decided);
        Assert.False(health.Report(ProbeVerdict.Down, 2));
        Assert.True(health.Report(ProbeVerdict.Up, 2));
        Assert.Equal(DestinationHealth.Healthy, health.Decided);
    }

    [Fact]
    public void A_success_starts_the_failure_count_again()
    {
        var health = new SharedBackendHealth();

        health.Report(ProbeVerdict.Down, 2);
        health.Report(ProbeVerdict.Up, 2);
        health.Report(ProbeVerdict.Down, 2);

        Assert.Equal(DestinationHealth.Healthy, health.Decided);
    }

    [Fact]
    public void A_stale_answer_neither_counts_as_a_failure_nor_resets_the_count()
    {
        var health = new SharedBackendHealth();

        health.Report(ProbeVerdict.Down, 2);
        Assert.False(health.Report(ProbeVerdict.Stale, 2));
        Assert.Equal(DestinationHealth.Unknown, health.Decided);
        Assert.True(health.Report(ProbeVerdict.Down, 2));
        Assert.Equal(DestinationHealth.Unhealthy, health.Decided);
    }

    [Fact]
    public void The_repository_probed_stays_the_same_while_it_is_served_and_another_is_asked_after_a_stale_answer()
    {
        var health = new SharedBackendHealth();

        Assert.Same(A, health.Choose([A, B]));
        Assert.Same(A, health.Choose([B, A]));
        Assert.Same(B, health.Choose([B]));

        health.Report(ProbeVerdict.Stale, 2);
        Assert.Null(health.ProbedUuid);
        Assert.Same(A, health.Choose([A, B]));
    }

    [Fact]
    public void Only_repositories_of_directories_are_grouped_by_the_backend_address_they_share()
    {
        var configured = new AnnexEdgeOptions
        {
            Repositories = [new RepositoryOptions { Name = "own", Uuid = UuidA, Backends = ["http://127.0.0.1:9000"] }],
            Directories =
            [
                new DirectoryOptions { Path = "/srv/one", Backends = ["http://127.0.0.1:9000/", "http://127.0.0.1:9001"] },
                new DirectoryOptions { Path = "/srv/two", Backends = ["http://127.0.0.1:9001"] },
            ],
        };
        FoundRepository[] one = [new("b", UuidB, "/srv/one/b"), new("c", UuidC, "/srv/one/c")];
        FoundRepository[] two = [new("d", UuidD, "/srv/two/d")];
        var (effective, _, _) = RepositoryDirectories.Merge(configured, [one, two]);

        var sharing = SharedBackendProber.Sharing(new RepositoryCatalog(effective).Current);

        Assert.Equal(["http://127.0.0.1:9000", "http://127.0.0.1:9001"], sharing.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["b", "c"], sharing["http://127.0.0.1:9000"].Select(r => r.Name));
        Assert.Equal(["b", "c", "d"], sharing["http://127.0.0.1:9001"].Select(r => r.Name));
    }

    [Fact]
    public void A_destination_that_the_shared_probe_calls_unhealthy_is_not_available()
    {
        var up = new DestinationState("up");
        var down = new DestinationState("down");
        down.Health.Active = DestinationHealth.Unhealthy;
        var refused = new DestinationState("refused");
        refused.Health.Passive = DestinationHealth.Unhealthy;

        var available = new SharedProbeDestinationsPolicy().GetAvailalableDestinations(new(), [up, down, refused]);

        Assert.Same(up, Assert.Single(available));
    }
}
