using AnnexEdge.Hosting;
using AnnexEdge.Security;

// AnnexEdge [check-config] --config FILE [--urls URLS] [ASP.NET Core settings]
// AnnexEdge hash-password < password
// AnnexEdge healthcheck URL
if (args is [HashPasswordCommand.Name])
{
    return HashPasswordCommand.Run(Console.In, Console.Out, Console.Error);
}

if (args is [HealthCheckCommand.Name, var healthUrl])
{
    return await HealthCheckCommand.RunAsync(healthUrl, Console.Error);
}

var (configFile, rest) = EdgeConfiguration.TakeConfigArgument(args);
var checkOnly = rest.Length > 0 && rest[0] == CheckConfigCommand.Name;
if (checkOnly)
{
    rest = rest[1..];
}

WebApplication app;
try
{
    app = EdgeApplication.Build(rest, configFile);
}
catch (EdgeConfigurationException e)
{
    foreach (var error in e.Errors)
    {
        Console.Error.WriteLine($"AnnexEdge: {error}");
    }

    return 2;
}

if (checkOnly)
{
    var status = CheckConfigCommand.Run(app.Services.GetRequiredService<AnnexEdge.Routing.RepositoryCatalog>().Current.Options, Console.Out, Spectre.Console.AnsiConsole.Console);
    await app.DisposeAsync();
    return status;
}

await GracefulStop.RunAsync(app);
return 0;
