// Package interop serves hypercim's interop namespace, root/interop (also
// reached as "interop"): what a client reads to discover the server, its
// namespaces, its protocols and the management profiles it implements.
//
// All instances are computed when asked for, from the server's state:
//
//   - HC_ObjectManager: exactly one, the server itself. ElementName is the
//     product name and Description "<product> CIM Server Version
//     <version>", the forms pywbem's WBEMServer reads brand and version
//     from.
//   - HC_Namespace (a CIM_Namespace) for every namespace, and
//     HC_NamespaceInManager from the object manager to each. Creating a
//     CIM_Namespace or HC_Namespace instance creates the namespace;
//     deleting one deletes an empty namespace (as pywbem's
//     WBEMServer.create_namespace and delete_namespace expect).
//   - HC_CIMXMLCommunicationMechanism and HC_WSManCommunicationMechanism for
//     each listener the server was started with, and
//     HC_CommMechanismForManager from the object manager to each.
//   - CIM_HostedService from the host system, once one is set
//     (SetHostSystem), to the object manager.
//   - The indication subscription model of DSP1054, when the server has an
//     indication service (a *wbem.Server has one; Config.Indications
//     names another): CIM_IndicationFilter, CIM_ListenerDestinationCIMXML
//     and the legacy CIM_IndicationHandlerCIMXML, and
//     CIM_IndicationSubscription, which clients create, modify and delete;
//     the provider fills in the keys that scope filters and destinations
//     to the server (SystemCreationClassName, SystemName,
//     CreationClassName, and a Name when none is given) and the core's
//     wbem.Indications validates, stores and serves them.
//     CIM_ListenerDestinationWSManagement instances cannot be created
//     (WS-Management listeners use WS-Eventing). HC_IndicationService,
//     HC_IndicationServiceCapabilities and HC_ElementCapabilities describe
//     the service; CIM_HostedService links it to the host system, and the
//     DSP1054 Indications profile 1.1.0 is registered with the service as
//     its central instance.
//   - HC_RegisteredProfile for each profile registered (RegisterProfile),
//     starting with DSP1033 Profile Registration itself;
//     HC_ReferencedProfile from each profile to those it references; and
//     HC_ElementConformsToProfile from each profile to its central
//     instances, served in root/interop and in the namespace of the
//     central instances alike. RegisteredProfile.GetCentralInstances
//     (DSP1033 1.1) returns the central instances directly.
//
// Other providers register their profiles at start-up:
//
//	path, err := interopProvider.RegisterProfile(interop.Profile{
//		Name: "System Virtualization", Version: "1.0.0",
//		CentralNamespace: "root/virt", CentralClass: "HC_HostSystem",
//		References: []string{ra.InstanceID()},
//	})
package interop
