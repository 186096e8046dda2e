using System.Diagnostics;
using AnnexEdge.IntegrationTests.Fixtures;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace AnnexEdge.IntegrationTests.Faults;

/// <summary>A backend that accepts the request and never answers is cut after the activity timeout.</summary>
public sealed class HungBackendTests
{
    [Fact]
    public async Task Checkpresent_to_a_backend_that_never_answers_fails_with_a_gateway_error_after_the_activity_timeout()
    {
        using var backend = WireMockServer.Start();
        backend.Given(Request.Create().WithPath($"/git-annex/{FaultEdge.Uuid}/v4/checkpresent").UsingPost())
            .RespondWith(Response.Create().WithDelay(TimeSpan.FromSeconds(60)).WithStatusCode(200)
                .WithHeader("Content-Type", "application/json;charset=utf-8").WithBody("{\"present\":true}"));
        var config = FaultEdge.ConfigFor(backend.Url!);
        config["Forwarding"] = new System.Text.Json.Nodes.JsonObject { ["ActivityTimeout"] = "00:00:02" };
        await using var edge = await EdgeHost.StartAsync(config);
        using var http = FaultEdge.NewClient();

        var clock = Stopwatch.StartNew();
        using var response = await http.PostAsync(edge.Url + FaultEdge.PathOf("checkpresent"), null, TestContext.Current.CancellationToken);
        clock.Stop();

        Assert.Equal(System.Net.HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(8));
    }
}
