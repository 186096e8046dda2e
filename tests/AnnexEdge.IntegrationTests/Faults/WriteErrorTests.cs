using System.Net;
using AnnexEdge.IntegrationTests.Fixtures;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace AnnexEdge.IntegrationTests.Faults;

/// <summary>One edge in front of a backend whose answer to put and remove each test sets.</summary>
public sealed class FailingWriteBackend : IAsyncLifetime
{
    public WireMockServer Backend { get; } = WireMockServer.Start();

    public EdgeHost Edge { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Edge = await EdgeHost.StartAsync(FaultEdge.ConfigFor(Backend.Url!));

    public void Answer(string endpoint, int status, string body)
    {
        Backend.ResetMappings();
        Backend.ResetLogEntries();
        Backend.Given(Request.Create().WithPath($"/git-annex/{FaultEdge.Uuid}/v4/{endpoint}").UsingPost())
            .RespondWith(Response.Create().WithStatusCode(status).WithHeader("Content-Type", "text/plain").WithBody(body));
    }

    public async ValueTask DisposeAsync()
    {
        await Edge.DisposeAsync();
        Backend.Dispose();
    }
}

/// <summary>A backend failing a put or remove reaches the client as that failure, never as success.</summary>
public sealed class WriteErrorTests(FailingWriteBackend fixture) : IClassFixture<FailingWriteBackend>
{
    [Theory]
    [InlineData("put", 500, "Something went wrong.")]
    [InlineData("put", 503, "Service Unavailable")]
    [InlineData("remove", 500, "Something went wrong.")]
    [InlineData("remove", 503, "Service Unavailable")]
    public async Task Backend_error_on_a_write_reaches_the_client_as_the_same_error(string endpoint, int status, string body)
    {
        fixture.Answer(endpoint, status, body);
        using var http = FaultEdge.NewClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, fixture.Edge.Url + FaultEdge.PathOf(endpoint));
        if (endpoint == "put")
        {
            request.Content = new ByteArrayContent(new byte[1000]);
            request.Headers.Add("X-git-annex-data-length", "1000");
        }

        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        var answer = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.Equal((HttpStatusCode)status, response.StatusCode);
        Assert.Equal(body, answer);
        // Forwarded once (a write is never retried), with its whole body.
        var forwarded = Assert.Single(fixture.Backend.LogEntries);
        Assert.Equal(endpoint == "put" ? 1000 : 0, forwarded.RequestMessage.BodyAsBytes?.Length ?? 0);

        // An answer of any status shows a live backend: it stays in rotation.
        Assert.True((bool)(await FaultEdge.BackendStatusAsync(fixture.Edge, fixture.Backend.Url!))["available"]!);
    }

    [Fact]
    public async Task Put_to_a_backend_that_drops_the_connection_fails_with_a_gateway_error_and_is_not_retried()
    {
        // Reads the request head, then closes without a word.
        await using var dropping = new RawHttpBackend((_, _, _) => Task.CompletedTask);
        await using var edge = await EdgeHost.StartAsync(FaultEdge.ConfigFor(dropping.Url));
        using var http = FaultEdge.NewClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, edge.Url + FaultEdge.PathOf("put"))
        {
            Content = new ByteArrayContent(new byte[1000]),
        };
        request.Headers.Add("X-git-annex-data-length", "1000");

        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        var answer = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.DoesNotContain("stored", answer, StringComparison.Ordinal);
        Assert.Equal(1, dropping.Requests);
    }
}
