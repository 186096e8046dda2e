using AnnexEdge.Routing;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Tests.Routing;

public sealed class BackendLoadTests
{
    [Fact]
    public void A_request_the_edge_sends_itself_counts_in_flight_without_touching_yarps_own_count()
    {
        var load = new BackendLoad();
        var backend = new DestinationState("node1/0") { ConcurrentRequestCount = 2 };

        using (load.Enter(backend))
        {
            Assert.Equal(3, load.InFlight(backend));
            Assert.Equal(2, backend.ConcurrentRequestCount);
        }

        Assert.Equal(2, load.InFlight(backend));
    }

    [Fact]
    public async Task Counts_of_requests_entered_and_left_in_parallel_return_to_zero()
    {
        var load = new BackendLoad();
        var backend = new DestinationState("node1/0");
        var other = new DestinationState("node2/0");

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                using var counted = load.Enter(i % 2 == 0 ? backend : other);
            }
        }, TestContext.Current.CancellationToken)));

        Assert.Equal(0, load.InFlight(backend));
        Assert.Equal(0, load.InFlight(other));
    }
}
