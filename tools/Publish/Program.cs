using MsSwift.Publish;
using MsSwift.Publish.Manifest;

// ./build.sh publish [--check] [--manifest aspire-manifest.json] [--settings deploy/publish.json] [--output deploy/k8s]
var options = new Dictionary<string, string>(StringComparer.Ordinal)
{
    ["--manifest"] = "aspire-manifest.json",
    ["--settings"] = "deploy/publish.json",
    ["--output"] = "deploy/k8s",
};
var check = false;
for (var index = 0; index < args.Length; index++)
{
    if (args[index] == "--check")
    {
        check = true;
    }
    else if (options.ContainsKey(args[index]) && index + 1 < args.Length)
    {
        options[args[index]] = args[++index];
    }
    else
    {
        Console.Error.WriteLine($"unknown argument '{args[index]}'; usage: publish [--check] [--manifest FILE] [--settings FILE] [--output DIR]");
        return 2;
    }
}

try
{
    var files = Publisher.Render(AspireManifest.Load(options["--manifest"]), PublishSettings.Load(options["--settings"]));
    if (check)
    {
        var stale = Publisher.Stale(files, options["--output"]);
        foreach (var problem in stale)
        {
            Console.Error.WriteLine(problem);
        }

        Console.WriteLine(stale.Count == 0 ? $"{options["--output"]} is current" : $"{options["--output"]} is stale: run ./build.sh publish");
        return stale.Count == 0 ? 0 : 1;
    }

    Publisher.Write(files, options["--output"]);
    Console.WriteLine($"wrote {files.Count} files to {options["--output"]}; render with: kubectl kustomize {options["--output"]}/overlays/dev");
    return 0;
}
catch (Exception error) when (error is InvalidDataException or IOException or System.Text.Json.JsonException)
{
    Console.Error.WriteLine($"publish failed: {error.Message}");
    return 1;
}
