/** The French details of intake refusals, as citizens read them. */

export function closedDetail(reason: string): string {
  switch (reason) {
    case 'weekend':
      return 'Le centre est fermé le week-end.';
    case 'holiday':
      return 'Le centre est fermé ce jour férié.';
    default:
      return 'Le centre est exceptionnellement fermé à ce moment-là.';
  }
}

export function slotDetail(reason: string): string {
  switch (reason) {
    case 'not_window_start':
      return "Cette heure n'est pas le début d'un créneau de rappel.";
    case 'past':
      return 'Ce créneau est déjà passé.';
    case 'too_soon':
      return 'Ce créneau commence trop tôt : il doit être réservé plus longtemps à l’avance.';
    default:
      return 'Ce créneau est trop lointain pour être réservé.';
  }
}

export function asapDetail(reason: string, minutes: number): string {
  switch (reason) {
    case 'closed':
      return 'Le centre est fermé en ce moment : choisissez un créneau de rappel.';
    case 'nobody_available':
      return "Aucun informateur de ce domaine n'est disponible en ce moment : choisissez un créneau de rappel.";
    case 'closing_soon':
      return 'Le centre ferme bientôt : choisissez un créneau de rappel.';
    default:
      return `Nous ne pouvons pas vous rappeler dans les ${minutes} minutes : choisissez un créneau de rappel.`;
  }
}

export function phoneDetail(reason: string): string {
  switch (reason) {
    case 'premium_rate':
      return 'Les numéros surtaxés ou à coût partagé ne peuvent pas être rappelés.';
    case 'not_french':
      return 'Seuls les numéros de métropole, de Guadeloupe, de Martinique, de Guyane, de La Réunion, de Mayotte, de Saint-Pierre-et-Miquelon, de Saint-Barthélemy et de Saint-Martin peuvent être rappelés.';
    default:
      return "Ce numéro de téléphone n'est pas valide.";
  }
}
