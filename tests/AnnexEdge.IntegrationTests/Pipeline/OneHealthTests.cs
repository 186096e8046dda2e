using System.Net;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Routing;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Events;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using Yarp.ReverseProxy;

namespace AnnexEdge.IntegrationTests.Pipeline;

/// <summary>
/// YARP's forwarding and the cluster gateway share one notion of a backend's health: a backend that fails for one is
/// out of rotation for the other. Active probes are off, so only what a request saw changes a backend's health.
/// </summary>
public sealed class OneHealthTests : IAsyncLifetime
{
    private const string ClientUuid = "c1e00000-0000-4000-8000-000000000001";
    private const string GatewayUuid = "9a7e0000-0000-4000-8000-00000000ed9f";
    private const string SlowPairUuid = "ac000000-0000-8000-8000-0000000000d1";
    private const string RefusingPairUuid = "ac000000-0000-8000-8000-0000000000d2";
    private const string TwinUuid = "0d000000-0000-4000-8000-0000000000b1";
    private const string SoloUuid = "0d000000-0000-4000-8000-0000000000b2";
    private const string Key = "SHA256E-s11--0f343b0931126a20f133d67c2b018a3b0f343b0931126a20f133d67c2b018a3b.bin";

    // twin: "slow" stops answering the gateway's checks in time; solo: "refusing" is a closed port.
    private readonly WireMockServer _slow = WireMockServer.Start();
    private readonly WireMockServer _twin = WireMockServer.Start();
    private readonly WireMockServer _solo = WireMockServer.Start();
    private readonly int _refusingPort = FreePort.Next();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private EdgeHost _edge = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        foreach (var (node, delay) in new[] { (_slow, TimeSpan.FromSeconds(10)), (_twin, TimeSpan.Zero), (_solo, TimeSpan.Zero) })
        {
            var answer = Response.Create().WithStatusCode(200)
                .WithHeader("Content-Type", "application/json;charset=utf-8").WithBody("""{"present":true}""");
            node.Given(Request.Create().WithPath(new WireMock.Matchers.WildcardMatcher("/git-annex/*/v*/checkpresent")).UsingPost())
                .RespondWith(delay > TimeSpan.Zero ? answer.WithDelay(delay) : answer);
        }

        _edge = await EdgeHost.StartAsync(new JsonObject
        {
            ["Uuid"] = GatewayUuid,
            ["Repositories"] = new JsonArray(
                new JsonObject { ["Name"] = "twin", ["Uuid"] = TwinUuid, ["Backends"] = new JsonArray(_slow.Url!, _twin.Url!) },
                new JsonObject { ["Name"] = "solo", ["Uuid"] = SoloUuid, ["Backends"] = new JsonArray($"http://127.0.0.1:{_refusingPort}", _solo.Url!) }),
            ["Clusters"] = new JsonArray(
                new JsonObject { ["Name"] = "slowpair", ["Uuid"] = SlowPairUuid, ["Nodes"] = new JsonArray("twin") },
                new JsonObject { ["Name"] = "refusingpair", ["Uuid"] = RefusingPairUuid, ["Nodes"] = new JsonArray("solo") }),
            ["Locking"] = new JsonObject { ["TokenKey"] = EdgeProcess.TestTokenKey },
            ["HealthChecks"] = new JsonObject { ["Enabled"] = false, ["ReactivationPeriod"] = "00:10:00" },
            ["Forwarding"] = new JsonObject { ["NodeAnswerTimeout"] = "00:00:01" },
        });
    }

    private Task<HttpResponseMessage> CheckPresentAsync(string uuid) =>
        _http.PostAsync(new Uri($"{_edge.Url}/git-annex/{uuid}/v4/checkpresent?key={Key}&clientuuid={ClientUuid}"), null, Ct);

    private (Yarp.ReverseProxy.Model.ClusterState Cluster, Yarp.ReverseProxy.Model.DestinationState Backend) Backend(string repository, int index)
    {
        var repo = _edge.Services.GetRequiredService<RepositoryCatalog>().Repositories.Single(r => r.Name == repository);
        _edge.Services.GetRequiredService<IProxyStateLookup>().TryGetCluster(repo.YarpClusterId, out var yarpCluster);
        return (yarpCluster!, yarpCluster!.Destinations[repo.Backends[index].Id]);
    }

    private async Task<string?> PassiveHealthAsync(string repository, int index)
    {
        var status = await _edge.StatusAsync();
        var repo = status["repositories"]!.AsArray().Single(r => (string?)r!["name"] == repository)!;
        return (string?)repo["backends"]![index]!["passive"];
    }

    [Fact]
    public async Task A_backend_that_fails_for_the_gateway_is_shown_unhealthy_and_avoided_by_requests_to_its_own_uuid()
    {
        // The gateway asks the less busy replica first: make it the slow one.
        var (_, twinBackend) = Backend("twin", 1);
        using (_edge.Services.GetRequiredService<BackendLoad>().Enter(twinBackend))
        {
            using var answer = await CheckPresentAsync(SlowPairUuid);
            Assert.Equal(HttpStatusCode.BadGateway, answer.StatusCode);
        }

        Assert.Equal("Unhealthy", await PassiveHealthAsync("twin", 0));
        Assert.NotEqual("Unhealthy", await PassiveHealthAsync("twin", 1));

        _twin.ResetLogEntries();
        for (var i = 0; i < 6; i++)
        {
            using var answer = await CheckPresentAsync(TwinUuid);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        // Every one of them went to the healthy replica (one sent to the slow replica would never be logged here).
        await Eventually.Async(() => _twin.LogEntries.Count == 6, TimeSpan.FromSeconds(10), "the healthy replica logged all 6 requests",
            () => $"it logged {_twin.LogEntries.Count}");
    }

    [Fact]
    public async Task A_backend_that_failed_a_proxied_request_is_shown_unhealthy_and_avoided_by_the_gateway()
    {
        // YARP balances at random between the two replicas: the refused one is met within a few requests.
        await Eventually.Async(async () =>
        {
            using var answer = await CheckPresentAsync(SoloUuid);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            return await PassiveHealthAsync("solo", 0) == "Unhealthy";
        }, TimeSpan.FromSeconds(30), "a proxied request to solo met its refusing replica");

        // Make the refusing replica the one the gateway would try first, were it in rotation.
        var (_, soloBackend) = Backend("solo", 1);
        using (_edge.Services.GetRequiredService<BackendLoad>().Enter(soloBackend))
        {
            using var answer = await CheckPresentAsync(RefusingPairUuid);
            Assert.Equal("""{"present":true}""", await answer.Content.ReadAsStringAsync(Ct));
        }

        var logged = await _edge.RequestEventAsync("POST", $"/git-annex/{RefusingPairUuid}/v4/checkpresent", 200);
        Assert.Equal(Backend("solo", 1).Backend.DestinationId, ((ScalarValue)logged.Properties["Backend"]).Value);
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _edge.DisposeAsync();
        _slow.Dispose();
        _twin.Dispose();
        _solo.Dispose();
    }
}
