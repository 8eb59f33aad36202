using MsSwift.Training;
using MsSwift.Training.Extensions;
using MsSwift.Training.Grpc;
using MsSwift.Training.Http;
using MsSwift.Training.ParameterServer;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
var role = builder.AddApplicationServices();

var app = builder.Build();
app.MapDefaultEndpoints();
if (role == TrainingRole.Coordinator)
{
    app.MapGrpcService<TrainingServiceImpl>();
    app.MapGrpcService<ParameterServerService>();
    app.MapTrainingEndpoints();
}

app.Run();
