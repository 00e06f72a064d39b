export const DOMAIN_CODES = ['travail', 'interieur', 'justice', 'logement'] as const;
export type DomainCode = (typeof DOMAIN_CODES)[number];

export interface DomainInfo {
  code: DomainCode;
  label: string;
  description: string;
}

export const DOMAINS: readonly DomainInfo[] = [
  {
    code: 'travail',
    label: 'Travail',
    description:
      'Relations entre employeurs et salariés du secteur privé (contrat, rupture, congés, salaire).',
  },
  {
    code: 'interieur',
    label: 'Intérieur',
    description: 'Titres de séjour des étrangers, élections.',
  },
  {
    code: 'justice',
    label: 'Justice',
    description: 'Droit de la famille, tutelle et curatelle, successions.',
  },
  {
    code: 'logement',
    label: 'Logement',
    description: 'Location, urbanisme, copropriété.',
  },
];

export function isDomainCode(value: string): value is DomainCode {
  return (DOMAIN_CODES as readonly string[]).includes(value);
}
