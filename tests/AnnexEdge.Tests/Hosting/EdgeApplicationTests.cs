using AnnexEdge.Hosting;
using AnnexEdge.Locking;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AnnexEdge.Tests.Hosting;

public sealed class EdgeApplicationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("annexedge-app-").FullName;

    [Fact]
    public async Task The_edge_starts_no_data_protection_key_ring_which_nothing_of_it_uses()
    {
        var config = Path.Combine(_directory, "edge.json");
        await File.WriteAllTextAsync(config, """
            { "AnnexEdge": {
                "Repositories": [ { "Name": "r", "Uuid": "11111111-2222-4333-8444-555555555555", "Backends": [ "http://127.0.0.1:9" ] } ],
                "HealthChecks": { "Enabled": false } } }
            """, TestContext.Current.CancellationToken);

        await using var app = EdgeApplication.Build([], config, logging => logging.MinimumLevel.Fatal());

        var hosted = app.Services.GetServices<IHostedService>().Select(s => s.GetType().FullName).ToList();
        Assert.Contains(typeof(LocksReleasedAtStop).FullName, hosted);
        Assert.DoesNotContain(hosted, name => name!.Contains("DataProtection", StringComparison.Ordinal));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
